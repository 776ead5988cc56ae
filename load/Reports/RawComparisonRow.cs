using Gpuckpt.Load.Comparators;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>
/// A step beside the plain copy of its bytes in the same run: a checkpoint beside the raw write, a restore beside the
/// raw read, a migration beside the raw TCP transfer. The engine's rate is one operation's bytes over its mean latency.
/// </summary>
public sealed record RawComparisonRow(string Scenario, string Step, string RawHow, double EngineGigabytesPerSecond, double RawGigabytesPerSecond)
{
    public double Ratio => RawGigabytesPerSecond > 0 ? EngineGigabytesPerSecond / RawGigabytesPerSecond : 0;

    public static IReadOnlyList<RawComparisonRow> Of(ScenarioResult scenario)
    {
        var rows = new List<RawComparisonRow>();
        foreach (var step in scenario.Steps)
        {
            if (step.Ok == 0 || step.BytesPerOperation == 0 || step.Latency.MeanMs is not { } mean) continue;
            var engine = step.BytesPerOperation / (mean / 1000) / 1e9;
            var leaf = Leaf(step.Name);
            if (Nearest(scenario.Raw, step.BytesPerOperation) is not { } raw) continue;
            (string How, double Rate)? beside = leaf switch
            {
                "checkpoint" => ($"write, {raw.WriteHow}", raw.WriteGigabytesPerSecond),
                "restore" => ($"read, {raw.ReadHow}", raw.ReadGigabytesPerSecond),
                "migrate" => ("loopback TCP", raw.TransferGigabytesPerSecond),
                _ => null,
            };
            if (beside is { } b) rows.Add(new RawComparisonRow(scenario.Name, step.Name, b.How, engine, b.Rate));
        }
        return rows;
    }

    /// <summary>Whether a step has a plain copy to stand beside: a checkpoint, a restore or a migration.</summary>
    public static bool Comparable(string step) => Leaf(step) is "checkpoint" or "restore" or "migrate";

    /// <summary>The plain copy whose size is nearest to <paramref name="bytes"/> (by ratio).</summary>
    public static RawCopyResult? Nearest(IReadOnlyList<RawCopyResult> raw, long bytes) =>
        raw.OrderBy(r => Math.Abs(Math.Log((double)r.Bytes / Math.Max(bytes, 1)))).FirstOrDefault();

    private static string Leaf(string step) => step[(step.LastIndexOf('/') + 1)..];
}
