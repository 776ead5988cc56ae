using System.Collections.Concurrent;

namespace Gpuckpt.Load.Statistics;

/// <summary>What one step recorded while the scenario ran: latencies of its successes, its errors by kind, its completions.</summary>
public sealed class StepRecorder(string name)
{
    private readonly LatencyStats _latency = new();
    private readonly ConcurrentDictionary<string, (long Count, string Example)> _errors = new();
    private readonly List<(double At, long Bytes)> _completions = [];
    private long _ok, _failed, _bytes;

    public string Name { get; } = name;

    public void Success(TimeSpan latency, long bytes, double atSeconds)
    {
        _latency.Record(latency);
        Interlocked.Increment(ref _ok);
        Interlocked.Add(ref _bytes, bytes);
        lock (_completions) _completions.Add((atSeconds, bytes));
    }

    public void Failure(string kind, string message)
    {
        Interlocked.Increment(ref _failed);
        _errors.AddOrUpdate(kind, _ => (1, message), (_, e) => (e.Count + 1, e.Example));
    }

    public StepResult Result(double seconds, double windowSeconds)
    {
        List<(double, long)> completions;
        lock (_completions) completions = [.. _completions];
        return new StepResult(Name, _ok, _failed, _bytes, seconds, _latency.Summary(),
            [.. _errors.OrderByDescending(e => e.Value.Count).ThenBy(e => e.Key, StringComparer.Ordinal).Select(e => new ErrorCount(e.Key, e.Value.Count, e.Value.Example))],
            ThroughputWindow.Of(completions, seconds, windowSeconds));
    }
}
