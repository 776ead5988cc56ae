using Gpuckpt.Load.Statistics;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Statistics;

public sealed class ThroughputWindowSpecs
{
    [Fact]
    public void Every_completion_lands_in_the_window_that_holds_its_time()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var duration = 5 + random.NextDouble() * 50;
        var completions = Enumerable.Range(0, random.Next(1, 500)).Select(_ => (random.NextDouble() * duration, (long)random.Next(1, 1 << 30))).ToList();
        var width = 0.5 + random.NextDouble() * 4;

        var windows = ThroughputWindow.Of(completions, duration, width);

        Assert.Equal(completions.Count, windows.Sum(w => w.Operations));
        Assert.Equal(completions.Sum(c => c.Item2), windows.Sum(w => w.Bytes));
        Assert.Equal(duration, windows.Sum(w => w.Seconds), 6);
        foreach (var w in windows)
        {
            var inside = completions.Where(c => c.Item1 >= w.StartSeconds && c.Item1 < w.StartSeconds + width).ToList();
            Assert.True(inside.Count == w.Operations, $"seed {seed}: window at {w.StartSeconds} s holds {w.Operations}, {inside.Count} completed in it");
            Assert.Equal(inside.Sum(c => c.Item2), w.Bytes);
        }
    }
}
