using Gpuckpt.Load.Scenarios;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Scenarios;

public sealed class LoadSimulationSpecs
{
    [Fact]
    public void Injection_starts_rate_times_duration_iterations_evenly_spaced()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var rate = 0.5 + random.Next(1, 200) / 4.0;
        var during = TimeSpan.FromMilliseconds(random.Next(1_000, 60_000));
        var starts = new Inject(rate, during).StartTimes().ToList();

        Assert.Equal((int)Math.Ceiling(rate * during.TotalSeconds - 1e-9), starts.Count);
        Assert.All(starts.Zip(starts.Skip(1)), pair => Assert.Equal(1 / rate, (pair.Item2 - pair.Item1).TotalSeconds, 3));
        Assert.True(starts[^1] < during, $"seed {seed}: last start {starts[^1]} is past {during}");
    }

    [Theory]
    [InlineData(1, 9)]
    [InlineData(9, 1)]
    [InlineData(0, 6)]
    [InlineData(4, 4)]
    public void A_ramp_starts_as_many_iterations_as_its_rate_integrates_to(double from, double to)
    {
        var during = TimeSpan.FromSeconds(20);
        var ramp = new RampingInject(from, to, during);
        var starts = ramp.StartTimes().ToList();

        double Integral(double t) => from * t + (to - from) * t * t / (2 * during.TotalSeconds);
        Assert.InRange(starts.Count, Integral(during.TotalSeconds) - 1, Integral(during.TotalSeconds) + 1);
        // The k-th start is where the rate has integrated to k (within a TimeSpan tick).
        for (var k = 0; k < starts.Count; k++) Assert.Equal(k, Integral(starts[k].TotalSeconds), 4);
        // Ramping up puts more starts in the second half, ramping down in the first.
        var firstHalf = starts.Count(s => s < during / 2);
        Assert.Equal(Math.Sign(to - from), Math.Sign(starts.Count - 2 * firstHalf));
    }

    [Fact]
    public void Ramped_copies_move_from_the_first_number_to_the_second()
    {
        var ramp = new RampingConstant(2, 10, TimeSpan.FromSeconds(8));
        Assert.Equal(2, ramp.CopiesAt(TimeSpan.Zero));
        Assert.Equal(6, ramp.CopiesAt(TimeSpan.FromSeconds(4)));
        Assert.Equal(10, ramp.CopiesAt(TimeSpan.FromSeconds(8)));
        Assert.Equal(10, ramp.CopiesAt(TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("constant:4:30s")]
    [InlineData("ramp-constant:1:8:2m")]
    [InlineData("inject:2.5:500ms")]
    [InlineData("ramp:8:0:1h")]
    public void What_is_written_on_the_command_line_reads_back_the_same(string text)
    {
        var simulation = LoadSimulation.Parse(text);
        Assert.Equal(simulation, LoadSimulation.Parse(simulation.Spec()));
    }

    [Theory]
    [InlineData("constant:0:30s", "'0'")]
    [InlineData("constant:4:30", "'30'")]
    [InlineData("inject:abc:10s", "'abc'")]
    [InlineData("ramp:1:10s", "'ramp:1:10s'")]
    [InlineData("burst:1:10s", "'burst:1:10s'")]
    public void A_bad_simulation_is_refused_naming_the_bad_part(string text, string named)
    {
        var e = Assert.Throws<FormatException>(() => LoadSimulation.Parse(text));
        Assert.Contains(named, e.Message);
    }
}
