namespace Gpuckpt.Load.Statistics;

/// <summary>One step of a scenario (or the whole iteration) over the measured run.</summary>
public sealed record StepResult(
    string Name,
    long Ok,
    long Failed,
    long Bytes,
    double Seconds,
    LatencySummary Latency,
    IReadOnlyList<ErrorCount> Errors,
    IReadOnlyList<ThroughputWindow> Windows)
{
    public double OperationsPerSecond => Seconds > 0 ? Ok / Seconds : 0;
    public double GigabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e9 : 0;
    public long BytesPerOperation => Ok > 0 ? Bytes / Ok : 0;
}
