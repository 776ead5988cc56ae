using System.Text;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>The report as Markdown: per scenario its load, warm-up, steps, errors, pauses and the raw copy beside it.</summary>
public static class MarkdownReport
{
    public static string Render(LoadReport report, IReadOnlyList<ComparisonRow>? comparison)
    {
        var md = new StringBuilder();
        md.AppendLine($"# gpuckpt-load report").AppendLine();
        md.AppendLine($"`{report.Command}`, started {report.Started:u} on {report.Machine}.").AppendLine();
        foreach (var s in report.Scenarios)
        {
            md.AppendLine($"## {s.Name}").AppendLine();
            md.AppendLine($"Load: {s.Load}. Measured {ReportText.Number(s.Seconds)} s; throughput in windows of {ReportText.Number(s.WindowSeconds, "0.###")} s.");
            md.AppendLine($"Warm-up (not counted): {ReportText.Number(s.WarmUp.Seconds, "0.###")} s, {s.WarmUp.Ok} ok, {s.WarmUp.Failed} failed, mean {ReportText.Ms(s.WarmUp.MeanMs)} ms.").AppendLine();
            Table(md, ReportText.Header, s.Steps.Prepend(s.Iteration).Select(ReportText.Row));
            var errors = s.Steps.SelectMany(st => st.Errors.Select(e => (st.Name, e))).ToList();
            if (errors.Count > 0)
            {
                md.AppendLine("Errors by kind:").AppendLine();
                Table(md, ["step", "kind", "count", "first message"], errors.Select(e => (IReadOnlyList<string>)[e.Name, e.e.Kind, $"{e.e.Count}", e.e.Example]));
            }
            md.AppendLine($"Pauses ({s.Pauses.Count} samples): min {ReportText.Ms(s.Pauses.MinMs)} ms, mean {ReportText.Ms(s.Pauses.MeanMs)} ms, " +
                          string.Join(", ", s.Pauses.Percentiles.Select(p => $"{p.Label} {p.Describe()}")) + $", max {ReportText.Ms(s.Pauses.MaxMs)} ms.").AppendLine();
            foreach (var raw in s.Raw)
                md.AppendLine($"Raw copy of {raw.Bytes} bytes in the same run: write {ReportText.Number(raw.WriteGigabytesPerSecond, "F3")} GB/s ({raw.WriteHow}), " +
                              $"read {ReportText.Number(raw.ReadGigabytesPerSecond, "F3")} GB/s ({raw.ReadHow}), loopback TCP {ReportText.Number(raw.TransferGigabytesPerSecond, "F3")} GB/s.").AppendLine();
            if (s.Raw.Count > 0)
                Table(md, ["step", "raw", "engine GB/s", "raw GB/s", "engine/raw"], RawComparisonRow.Of(s).Select(r => (IReadOnlyList<string>)
                    [r.Step, r.RawHow, ReportText.Number(r.EngineGigabytesPerSecond, "F3"), ReportText.Number(r.RawGigabytesPerSecond, "F3"), ReportText.Number(r.Ratio)]));
        }
        if (comparison is { Count: > 0 })
        {
            md.AppendLine("## Against the earlier report").AppendLine();
            Table(md, ["scenario", "step", "figure", "before", "now", "change", ""], comparison.Select(c => (IReadOnlyList<string>)
                [c.Scenario, c.Step, c.Metric, ReportText.Figure(c.Old), ReportText.Figure(c.New), ReportText.Percent(c.Change), c.Verdict]));
        }
        return md.ToString();
    }

    private static void Table(StringBuilder md, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        md.AppendLine("| " + string.Join(" | ", header) + " |");
        md.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in rows) md.AppendLine("| " + string.Join(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" "))) + " |");
        md.AppendLine();
    }
}
