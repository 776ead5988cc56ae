using Gpuckpt.Host;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>A migration's rate is the rate of its last seconds: a stall shows 0, a burst its own speed.</summary>
public sealed class RecentRateSpecs
{
    private const long MB = 1_000_000;

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void After_a_stall_the_rate_falls_to_zero_within_the_window()
    {
        var rate = new RecentRate(S(3));
        for (var t = 0; t <= 10; t++) rate.Add(S(t), t * 10 * MB);

        Assert.Equal(10 * MB, rate.BytesPerSecond(S(10)), 3);
        // No report after t = 10: one window later nothing was sent within it.
        Assert.True(rate.BytesPerSecond(S(11.5)) < 10 * MB);
        Assert.Equal(0, rate.BytesPerSecond(S(13)), 3);
        Assert.Equal(0, rate.BytesPerSecond(S(60)), 3);
    }

    [Fact]
    public void After_a_burst_the_rate_is_the_bursts_not_the_average_since_the_start()
    {
        var rate = new RecentRate(S(3));
        long sent = 0;
        for (var t = 0; t <= 20; t++) rate.Add(S(t), sent += t == 0 ? 0 : MB);
        for (var t = 21; t <= 24; t++) rate.Add(S(t), sent += 100 * MB);

        var average = sent / 24.0;
        var now = rate.BytesPerSecond(S(24));
        Assert.Equal(100 * MB, now, 3);
        Assert.True(average < 20 * MB);
    }

    [Fact]
    public void Reports_closer_than_the_window_give_the_rate_between_them()
    {
        var rate = new RecentRate(S(3));
        Assert.Equal(0, rate.BytesPerSecond(S(0)));
        rate.Add(S(0.5), 0);
        rate.Add(S(1.5), 40 * MB);

        Assert.Equal(40 * MB, rate.BytesPerSecond(S(1.5)), 3);
    }

    [Fact]
    public void A_counter_that_starts_again_starts_the_window_again()
    {
        var rate = new RecentRate(S(3));
        rate.Add(S(0), 0);
        rate.Add(S(1), 500 * MB);
        rate.Add(S(2), 0);
        rate.Add(S(3), 20 * MB);

        Assert.Equal(20 * MB, rate.BytesPerSecond(S(3)), 3);
    }
}
