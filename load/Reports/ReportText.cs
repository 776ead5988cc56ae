using System.Globalization;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>How every text report spells a figure, so that they agree.</summary>
public static class ReportText
{
    public static string Ms(double? ms) => ms is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "n/a";
    public static string Figure(double? v) => v is { } x ? x.ToString(Math.Abs(x) >= 100 ? "F1" : "F3", CultureInfo.InvariantCulture) : "n/a";
    public static string Number(double v, string format = "F2") => v.ToString(format, CultureInfo.InvariantCulture);
    public static string Percent(double? change) => change is { } c ? (c >= 0 ? "+" : "") + (c * 100).ToString("F1", CultureInfo.InvariantCulture) + " %" : "n/a";

    public static string Errors(StepResult step) =>
        step.Errors.Count == 0 ? "" : string.Join("; ", step.Errors.Select(e => $"{e.Kind} ×{e.Count}"));

    /// <summary>The columns of a step's row: name, ok, failed, ops/s, GB/s, min, mean, each percentile, max, errors.</summary>
    public static IReadOnlyList<string> Header =>
        ["step", "ok", "failed", "ops/s", "GB/s", "min ms", "mean ms", .. LatencyStats.Percentiles.Select(p => $"p{p} ms"), "max ms", "errors"];

    public static IReadOnlyList<string> Row(StepResult step) =>
    [
        step.Name, $"{step.Ok}", $"{step.Failed}", Number(step.OperationsPerSecond), Number(step.GigabytesPerSecond, "F3"),
        Ms(step.Latency.MinMs), Ms(step.Latency.MeanMs), .. step.Latency.Percentiles.Select(p => p.Describe()), Ms(step.Latency.MaxMs), Errors(step),
    ];
}
