namespace Gpuckpt.Load.Statistics;

/// <summary>
/// A percentile as a sample count can support it: p needs at least 100 / (100 - p) samples, so that at least one
/// sample lies above it (p99 needs 100, p95 20, p75 4, p50 2); below that it is not known and is never shown as max.
/// </summary>
public sealed record Percentile(double P, double? Ms, long SamplesNeeded)
{
    public static long SamplesFor(double p) => (long)Math.Ceiling(100.0 / (100.0 - p) - 1e-9);

    public string Label => $"p{P:0.##}";

    /// <summary>Milliseconds ("12.3"), or "n/a (needs ≥ 100 samples)".</summary>
    public string Describe() => Ms is { } ms ? ms.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : $"n/a (needs ≥ {SamplesNeeded} samples)";
}
