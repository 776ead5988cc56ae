using Gpuckpt.Load.Statistics;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Statistics;

public sealed class MedianSpecs
{
    [Fact]
    public void Of_an_odd_count_it_is_the_middle_run_and_of_an_even_count_the_mean_of_the_two_middle_ones_in_any_order()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var runs = Enumerable.Range(0, 2 * random.Next(1, 6)).Select(_ => random.NextDouble() * 10).ToList();
        var sorted = runs.Order().ToList();
        var shuffled = runs.OrderBy(_ => random.Next()).ToList();

        Assert.Equal((sorted[runs.Count / 2 - 1] + sorted[runs.Count / 2]) / 2, Median.Of(shuffled));
        Assert.Equal(sorted[runs.Count / 2], Median.Of(shuffled.Append(sorted[runs.Count / 2]))); // one more run, at the upper middle
        // Two runs: a ratio of 0.82 and one of 0.65 have a median of 0.735, neither run's figure.
        Assert.Equal(0.735, Median.Of([0.82, 0.65]), 9);
        Assert.Throws<ArgumentException>(() => Median.Of([]));
    }
}
