using Gpuckpt.Load.Statistics;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Statistics;

public sealed class LatencyStatsSpecs
{
    [Fact]
    public void A_percentile_the_samples_cannot_support_is_shown_as_such_not_as_max()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var samples = Enumerable.Range(0, 24).Select(_ => random.Next(1_000, 5_000_000)).ToList();
        var stats = new LatencyStats();
        foreach (var us in samples) stats.Record(TimeSpan.FromMicroseconds(us));

        var summary = stats.Summary();
        Assert.Equal(24, summary.Count);
        Assert.Null(summary.At(99).Ms);
        Assert.Equal("n/a (needs ≥ 100 samples)", summary.At(99).Describe());
        Assert.Equal(samples.Max() / 1000.0, summary.MaxMs);
        Assert.Equal(samples.Min() / 1000.0, summary.MinMs);
        // 24 samples support p95 (one sample above it needs 20), and it is the sample at its rank, not max.
        var sorted = samples.Order().ToList();
        Assert.True(summary.At(95).Ms is { } p95 && Math.Abs(p95 - sorted[22] / 1000.0) <= sorted[22] / 1000.0 * 0.001, $"seed {seed}: p95 {summary.At(95).Ms} against rank 23 {sorted[22]} µs");
    }

    [Fact]
    public void Each_percentile_needs_enough_samples_for_one_to_lie_above_it()
    {
        foreach (var p in LatencyStats.Percentiles)
        {
            var needed = Percentile.SamplesFor(p);
            var stats = new LatencyStats();
            for (var i = 1; i < needed; i++) stats.Record(TimeSpan.FromMilliseconds(i));
            Assert.Null(stats.Summary().At(p).Ms);
            stats.Record(TimeSpan.FromMilliseconds(needed));
            // With exactly enough samples, the top one stays above the percentile.
            Assert.True(stats.Summary().At(p).Ms < needed, $"p{p} with {needed} samples: {stats.Summary().At(p).Ms}");
        }
    }

    [Fact]
    public void With_many_samples_each_percentile_is_the_sample_at_its_rank()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var samples = Enumerable.Range(0, 2_000).Select(_ => (long)random.Next(100, 60_000_000)).ToList();
        var stats = new LatencyStats();
        foreach (var us in samples) stats.Record(TimeSpan.FromMicroseconds(us));
        var sorted = samples.Order().ToList();
        var summary = stats.Summary();
        Assert.Equal(sorted.Average() / 1000.0, summary.MeanMs!.Value, 3);
        foreach (var p in LatencyStats.Percentiles)
        {
            var atRank = sorted[(int)Math.Ceiling(p / 100 * sorted.Count) - 1] / 1000.0;
            // HdrHistogram keeps 3 significant digits.
            Assert.True(Math.Abs(summary.At(p).Ms!.Value - atRank) <= atRank * 0.001, $"seed {seed}: p{p} {summary.At(p).Ms} against {atRank}");
        }
    }
}
