using HdrHistogram;

namespace Gpuckpt.Load.Statistics;

/// <summary>Latencies in microseconds in an HdrHistogram (3 significant digits, up to one hour), with exact min and max.</summary>
public sealed class LatencyStats
{
    public static readonly double[] Percentiles = [50, 75, 95, 99];

    private readonly LongHistogram _histogram = new(3_600_000_000L, 3);
    private long _minUs = long.MaxValue, _maxUs;
    private double _sumUs;

    public long Count => _histogram.TotalCount;

    public void Record(TimeSpan latency)
    {
        var us = Math.Clamp((long)Math.Round(latency.TotalMicroseconds), 1L, 3_600_000_000L);
        lock (_histogram)
        {
            _histogram.RecordValue(us);
            _minUs = Math.Min(_minUs, us);
            _maxUs = Math.Max(_maxUs, us);
            _sumUs += us;
        }
    }

    public LatencySummary Summary()
    {
        lock (_histogram)
        {
            var n = _histogram.TotalCount;
            return new LatencySummary(
                n,
                n == 0 ? null : _minUs / 1000.0,
                n == 0 ? null : _sumUs / n / 1000.0,
                n == 0 ? null : _maxUs / 1000.0,
                [.. Percentiles.Select(p => new Percentile(p,
                    n >= Percentile.SamplesFor(p) ? Math.Min(_histogram.GetValueAtPercentile(p), _maxUs) / 1000.0 : null,
                    Percentile.SamplesFor(p)))]);
        }
    }
}
