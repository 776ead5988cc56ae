using Gpuckpt.Load.Statistics;
using Spectre.Console;

namespace Gpuckpt.Load.Reports;

/// <summary>The report as Spectre.Console tables.</summary>
public static class ConsoleReport
{
    public static void Write(IAnsiConsole console, LoadReport report, IReadOnlyList<ComparisonRow>? comparison)
    {
        foreach (var s in report.Scenarios)
        {
            console.Write(new Rule($"[bold]{Markup.Escape(s.Name)}[/]").LeftJustified());
            console.MarkupLine(Markup.Escape($"load: {s.Load}; measured {ReportText.Number(s.Seconds)} s"));
            console.MarkupLine(Markup.Escape($"warm-up (not counted): {ReportText.Number(s.WarmUp.Seconds, "0.###")} s, {s.WarmUp.Ok} ok, {s.WarmUp.Failed} failed"));
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var h in ReportText.Header) table.AddColumn(new TableColumn(Markup.Escape(h)) { Alignment = h == "step" || h == "errors" ? Justify.Left : Justify.Right });
            foreach (var step in s.Steps.Prepend(s.Iteration)) table.AddRow([.. ReportText.Row(step).Select(Markup.Escape)]);
            console.Write(table);
            foreach (var step in s.Steps)
                foreach (var e in step.Errors)
                    console.MarkupLine($"[red]{Markup.Escape($"{step.Name}: {e.Kind} ×{e.Count}")}[/] {Markup.Escape($"(first: {e.Example})")}");
            console.MarkupLine(Markup.Escape($"pauses ({s.Pauses.Count}): mean {ReportText.Ms(s.Pauses.MeanMs)} ms, " +
                                             string.Join(", ", s.Pauses.Percentiles.Select(p => $"{p.Label} {p.Describe()}")) + $", max {ReportText.Ms(s.Pauses.MaxMs)} ms"));
            foreach (var r in RawComparisonRow.Of(s))
                console.MarkupLine(Markup.Escape($"{r.Step}: engine {ReportText.Number(r.EngineGigabytesPerSecond, "F3")} GB/s, raw {r.RawHow} {ReportText.Number(r.RawGigabytesPerSecond, "F3")} GB/s, engine/raw {ReportText.Number(r.Ratio)}"));
        }
        if (comparison is { Count: > 0 })
        {
            var table = new Table().Border(TableBorder.Rounded).Title("against the earlier report");
            foreach (var h in (string[])["scenario", "step", "figure", "before", "now", "change", ""]) table.AddColumn(h);
            foreach (var c in comparison)
                table.AddRow(Markup.Escape(c.Scenario), Markup.Escape(c.Step), Markup.Escape(c.Metric), ReportText.Figure(c.Old), ReportText.Figure(c.New),
                    Markup.Escape(ReportText.Percent(c.Change)), c.Verdict switch { "faster" => "[green]faster[/]", "slower" => "[red]slower[/]", var v => v });
            console.Write(table);
        }
    }
}
