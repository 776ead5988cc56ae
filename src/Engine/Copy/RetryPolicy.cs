using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// Which chunk faults are worth another try (EINTR, EAGAIN, EIO, a short write, a timed-out attempt) and how long to
/// wait before it: <see cref="FirstBackoff"/>, doubling up to <see cref="MaxBackoff"/>, at most <see cref="MaxRetries"/>
/// times. Anything else is bad input or a lasting fault: the BO stops and the job fails.
/// </summary>
public sealed record RetryPolicy(int MaxRetries, TimeSpan FirstBackoff, TimeSpan MaxBackoff)
{
    public static readonly RetryPolicy None = new(0, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>The errno behind an exception, when there is one (on Unix an IOException carries it as its HResult).</summary>
    public static int? ErrorNumber(Exception e) => e switch
    {
        ChunkIoException c => c.ErrorNumber,
        DriverException d => d.ErrorNumber,
        TimeoutException => Errno.ETIMEDOUT,
        Images.ImageException => null,
        IOException io when io.HResult is > 0 and < 4096 => io.HResult,
        _ => null,
    };

    public static bool IsTransient(Exception e) =>
        ErrorNumber(e) is Errno.EINTR or Errno.EAGAIN or Errno.EIO or Errno.ETIMEDOUT or ChunkIoException.ShortWrite;

    /// <summary>True when attempt number <paramref name="attempt"/> (1 = the first) failed with a fault worth retrying.</summary>
    public bool ShouldRetry(Exception e, int attempt) => attempt <= MaxRetries && IsTransient(e);

    public TimeSpan Backoff(int attempt)
    {
        var ticks = FirstBackoff.Ticks * Math.Pow(2, Math.Max(0, attempt - 1));
        return TimeSpan.FromTicks((long)Math.Min(ticks, MaxBackoff.Ticks));
    }
}
