namespace Gpuckpt.Load.Scenarios;

/// <summary>What a step moved (bytes, for throughput) and, for one that paused a process, how long it was paused.</summary>
public sealed record StepOutcome(long Bytes, double? PauseSeconds = null)
{
    public static readonly StepOutcome None = new(0);
}
