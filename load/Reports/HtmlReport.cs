using System.Net;
using System.Text;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>One self-contained HTML page: the tables of the Markdown report and every plot embedded as a PNG data URI.</summary>
public static class HtmlReport
{
    public static string Render(LoadReport report, IReadOnlyList<ComparisonRow>? comparison)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gpuckpt-load report</title><style>")
            .Append("body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:90%}")
            .Append("td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}")
            .Append("th{background:#eee}td.na{color:#777;font-size:85%}img.plot{display:block;margin:1em 0;border:1px solid #ddd}.faster{color:#080}.slower{color:#b00}")
            .Append("</style></head><body>\n");
        html.Append($"<h1>gpuckpt-load report</h1><p><code>{E(report.Command)}</code>, started {report.Started:u} on {E(report.Machine)}.</p>\n");
        foreach (var s in report.Scenarios)
        {
            html.Append($"<section class=\"scenario\" id=\"{E(s.Name)}\"><h2>{E(s.Name)}</h2>");
            html.Append($"<p>Load: {E(s.Load)}. Measured {ReportText.Number(s.Seconds)} s; throughput in windows of {ReportText.Number(s.WindowSeconds, "0.###")} s.<br>");
            html.Append($"Warm-up (not counted): {ReportText.Number(s.WarmUp.Seconds, "0.###")} s, {s.WarmUp.Ok} ok, {s.WarmUp.Failed} failed, mean {ReportText.Ms(s.WarmUp.MeanMs)} ms.</p>\n");
            Table(html, ReportText.Header, s.Steps.Prepend(s.Iteration).Select(ReportText.Row));
            var errors = s.Steps.SelectMany(st => st.Errors.Select(e => (IReadOnlyList<string>)[st.Name, e.Kind, $"{e.Count}", e.Example])).ToList();
            if (errors.Count > 0)
            {
                html.Append("<h3>Errors by kind</h3>");
                Table(html, ["step", "kind", "count", "first message"], errors);
            }
            Plot(html, Plots.Throughput(s), $"{s.Name}: throughput over time", "throughput");
            Plot(html, Plots.Bandwidth(s), $"{s.Name}: bytes moved over time", "bandwidth");
            Plot(html, Plots.Latency(s), $"{s.Name}: latency percentiles", "latency");
            html.Append($"<p>Pauses ({s.Pauses.Count} samples): min {ReportText.Ms(s.Pauses.MinMs)} ms, mean {ReportText.Ms(s.Pauses.MeanMs)} ms, ")
                .Append(E(string.Join(", ", s.Pauses.Percentiles.Select(p => $"{p.Label} {p.Describe()}")))).Append($", max {ReportText.Ms(s.Pauses.MaxMs)} ms.</p>");
            Plot(html, Plots.Pauses(s), $"{s.Name}: pause distribution", "pauses");
            foreach (var raw in s.Raw)
                html.Append($"<p>Raw copy of {raw.Bytes} bytes in the same run: write {ReportText.Number(raw.WriteGigabytesPerSecond, "F3")} GB/s ({E(raw.WriteHow)}), ")
                    .Append($"read {ReportText.Number(raw.ReadGigabytesPerSecond, "F3")} GB/s ({E(raw.ReadHow)}), loopback TCP {ReportText.Number(raw.TransferGigabytesPerSecond, "F3")} GB/s.</p>");
            if (s.Raw.Count > 0)
            {
                Table(html, ["step", "raw", "engine GB/s", "raw GB/s", "engine/raw"], RawComparisonRow.Of(s).Select(r => (IReadOnlyList<string>)
                    [r.Step, r.RawHow, ReportText.Number(r.EngineGigabytesPerSecond, "F3"), ReportText.Number(r.RawGigabytesPerSecond, "F3"), ReportText.Number(r.Ratio)]));
                Plot(html, Plots.Raw(s), $"{s.Name}: engine against the raw copy", "raw");
            }
            html.Append("</section>\n");
        }
        if (comparison is { Count: > 0 })
        {
            html.Append("<section id=\"comparison\"><h2>Against the earlier report</h2>");
            Plot(html, Plots.Compare(comparison), "mean latency against the earlier report", "compare");
            html.Append("<table><tr><th>scenario</th><th>step</th><th>figure</th><th>before</th><th>now</th><th>change</th><th></th></tr>");
            foreach (var c in comparison)
                html.Append($"<tr><td>{E(c.Scenario)}</td><td>{E(c.Step)}</td><td>{E(c.Metric)}</td><td>{ReportText.Figure(c.Old)}</td><td>{ReportText.Figure(c.New)}</td>")
                    .Append($"<td>{E(ReportText.Percent(c.Change))}</td><td class=\"{c.Verdict}\">{c.Verdict}</td></tr>");
            html.Append("</table></section>\n");
        }
        return html.Append("</body></html>\n").ToString();
    }

    private static void Plot(StringBuilder html, byte[] png, string alt, string kind) =>
        html.Append($"<img class=\"plot\" data-plot=\"{kind}\" alt=\"{E(alt)}\" width=\"900\" height=\"360\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\">\n");

    private static void Table(StringBuilder html, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        html.Append("<table><tr>").Append(string.Concat(header.Select(h => $"<th>{E(h)}</th>"))).Append("</tr>");
        foreach (var row in rows) html.Append("<tr>").Append(string.Concat(row.Select(c => $"<td>{E(c)}</td>"))).Append("</tr>");
        html.Append("</table>\n");
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
