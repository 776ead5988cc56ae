namespace Gpuckpt.Host;

/// <summary>
/// Bytes per second over a recent window of progress reports, not since the start: a stall falls to 0 within the
/// window, a burst shows its own rate. Fed with the cumulative bytes sent and the time each report arrived.
/// </summary>
public sealed class RecentRate(TimeSpan window)
{
    private readonly Queue<(TimeSpan At, long Bytes)> _samples = new();

    public TimeSpan Window { get; } = window > TimeSpan.Zero ? window : throw new ArgumentOutOfRangeException(nameof(window), window, "the window must be positive");

    /// <summary>Records that <paramref name="bytes"/> (cumulative) had been sent at <paramref name="at"/>.</summary>
    public void Add(TimeSpan at, long bytes)
    {
        // A counter that went back (a new step restarting its count) starts the window afresh.
        if (_samples.Count > 0 && (bytes < _samples.Last().Bytes || at < _samples.Last().At)) _samples.Clear();
        _samples.Enqueue((at, bytes));
    }

    /// <summary>The rate over the window that ends at <paramref name="now"/>; 0 with fewer than two samples in it.</summary>
    public double BytesPerSecond(TimeSpan now)
    {
        var from = now - Window;
        // Keep one sample at or before the window's start: the bytes counted across the window's edge are its baseline.
        while (_samples.Count > 1 && _samples.ElementAt(1).At <= from) _samples.Dequeue();
        if (_samples.Count == 0) return 0;
        var (firstAt, firstBytes) = _samples.Peek();
        var (_, lastBytes) = _samples.Last();
        // A first sample older than the window stands for the count at its start; a younger one starts the span itself.
        var span = (now - (firstAt <= from ? from : firstAt)).TotalSeconds;
        if (span <= 0) return 0;
        return (lastBytes - firstBytes) / span;
    }
}
