namespace Gpuckpt.Load.Statistics;

/// <summary>What a report shows of a latency distribution, in milliseconds; null where there are no samples.</summary>
public sealed record LatencySummary(long Count, double? MinMs, double? MeanMs, double? MaxMs, IReadOnlyList<Percentile> Percentiles)
{
    public Percentile At(double p) => Percentiles.Single(x => x.P == p);
}
