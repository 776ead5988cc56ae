namespace Gpuckpt.Load.Scenarios;

/// <summary>Keeps <paramref name="Copies"/> iterations running at once for <paramref name="During"/>.</summary>
public sealed record KeepConstant(int Copies, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"constant {Copies} {(Copies == 1 ? "copy" : "copies")} for {Seconds(During)}";
    public override string Spec() => $"constant:{Copies}:{Seconds(During)}";
    public override LoadSimulation WarmUp(TimeSpan during) => this with { During = during };
}
