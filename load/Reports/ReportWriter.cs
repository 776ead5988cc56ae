using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>Writes report.md, report.csv, report.json and report.html (as asked) into a directory; returns their paths.</summary>
public static class ReportWriter
{
    public static IReadOnlyList<string> Write(string directory, ReportFormat formats, LoadReport report, IReadOnlyList<ComparisonRow>? comparison)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Put(ReportFormat format, string name, Func<string> render)
        {
            if (!formats.HasFlag(format)) return;
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, render());
            written.Add(path);
        }
        Put(ReportFormat.Md, "report.md", () => MarkdownReport.Render(report, comparison));
        Put(ReportFormat.Csv, "report.csv", () => CsvReport.Render(report));
        Put(ReportFormat.Json, "report.json", report.ToJson);
        Put(ReportFormat.Html, "report.html", () => HtmlReport.Render(report, comparison));
        return written;
    }
}
