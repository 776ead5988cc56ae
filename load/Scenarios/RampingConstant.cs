namespace Gpuckpt.Load.Scenarios;

/// <summary>Copies running at once, moved linearly from <paramref name="From"/> to <paramref name="To"/> over <paramref name="During"/>.</summary>
public sealed record RampingConstant(int From, int To, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"ramp {From} → {To} copies over {Seconds(During)}";
    public override string Spec() => $"ramp-constant:{From}:{To}:{Seconds(During)}";
    public override LoadSimulation WarmUp(TimeSpan during) => new KeepConstant(Math.Max(1, From), during);

    /// <summary>The copies wanted at <paramref name="elapsed"/> into the phase.</summary>
    public int CopiesAt(TimeSpan elapsed) =>
        (int)Math.Round(From + (To - From) * Math.Clamp(elapsed / During, 0, 1), MidpointRounding.AwayFromZero);
}
