namespace Gpuckpt.Load.Statistics;

/// <summary>Operations and bytes completed in [StartSeconds, StartSeconds + Seconds) of the measured run.</summary>
public sealed record ThroughputWindow(double StartSeconds, double Seconds, long Operations, long Bytes)
{
    public double OperationsPerSecond => Operations / Seconds;
    public double GigabytesPerSecond => Bytes / Seconds / 1e9;

    /// <summary>Completions (seconds since the measured run began, bytes) in consecutive windows covering [0, duration).</summary>
    public static IReadOnlyList<ThroughputWindow> Of(IReadOnlyCollection<(double At, long Bytes)> completions, double durationSeconds, double windowSeconds)
    {
        if (windowSeconds <= 0) throw new ArgumentOutOfRangeException(nameof(windowSeconds), windowSeconds, "a window must last longer than 0 s");
        var count = Math.Max(1, (int)Math.Ceiling(durationSeconds / windowSeconds - 1e-9));
        var ops = new long[count];
        var bytes = new long[count];
        foreach (var (at, b) in completions)
        {
            var i = Math.Clamp((int)Math.Floor(at / windowSeconds), 0, count - 1);
            ops[i]++;
            bytes[i] += b;
        }
        return [.. Enumerable.Range(0, count).Select(i => new ThroughputWindow(i * windowSeconds,
            Math.Min(windowSeconds, Math.Max(durationSeconds - i * windowSeconds, 1e-9)), ops[i], bytes[i]))];
    }
}
