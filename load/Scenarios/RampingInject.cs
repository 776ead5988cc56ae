namespace Gpuckpt.Load.Scenarios;

/// <summary>An injection rate moved linearly from <paramref name="From"/> to <paramref name="To"/> per second over <paramref name="During"/>.</summary>
public sealed record RampingInject(double From, double To, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"ramp {From:0.###} → {To:0.###}/s over {Seconds(During)}";
    public override string Spec() => $"ramp:{From:0.###}:{To:0.###}:{Seconds(During)}";
    public override LoadSimulation WarmUp(TimeSpan during) => new Inject(Math.Max(From, 1), during);

    /// <summary>
    /// When each iteration starts: the k-th where the rate's integral, From·t + (To − From)·t² / 2D, reaches k; so the
    /// count started by time t is that integral rounded up, and the whole phase starts about (From + To) / 2 · D.
    /// </summary>
    public IEnumerable<TimeSpan> StartTimes()
    {
        var d = During.TotalSeconds;
        var a = (To - From) / (2 * d);
        for (long k = 0; ; k++)
        {
            // Solve a·t² + From·t − k = 0 for the smallest t ≥ 0.
            double t = a == 0 ? k / From : (-From + Math.Sqrt(From * From + 4 * a * k)) / (2 * a);
            if (double.IsNaN(t) || double.IsInfinity(t) || t >= d) yield break;
            yield return TimeSpan.FromSeconds(t);
        }
    }
}
