using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>One row per scenario and step (the whole iteration first), the columns of the Markdown table.</summary>
public static class CsvReport
{
    public static string Render(LoadReport report)
    {
        var lines = new List<string> { Line(["scenario", .. ReportText.Header]) };
        foreach (var s in report.Scenarios)
            foreach (var step in s.Steps.Prepend(s.Iteration))
                lines.Add(Line([s.Name, .. ReportText.Row(step)]));
        return string.Join('\n', lines) + "\n";
    }

    private static string Line(IEnumerable<string> cells) =>
        string.Join(',', cells.Select(c => c.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{c.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : c));
}
