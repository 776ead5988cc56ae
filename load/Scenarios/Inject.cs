namespace Gpuckpt.Load.Scenarios;

/// <summary>Starts <paramref name="Rate"/> iterations per second, evenly spaced, for <paramref name="During"/>, however many are still running.</summary>
public sealed record Inject(double Rate, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"inject {Rate:0.###}/s for {Seconds(During)}";
    public override string Spec() => $"inject:{Rate:0.###}:{Seconds(During)}";
    public override LoadSimulation WarmUp(TimeSpan during) => this with { During = during };

    /// <summary>When each iteration starts, from the phase's start: the k-th at k / rate.</summary>
    public IEnumerable<TimeSpan> StartTimes()
    {
        for (long k = 0; ; k++)
        {
            var at = TimeSpan.FromSeconds(k / Rate);
            if (at >= During) yield break;
            yield return at;
        }
    }
}
