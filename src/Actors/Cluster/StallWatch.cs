using System.Diagnostics;
using Akka.Actor;
using Akka.Event;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// Tells a node's operator when the node could not have answered heartbeats in time: every <c>interval</c> a thread of
/// its own wakes and hands one work item to the .NET thread pool. A wake-up that comes late means the process got no
/// CPU; a work item that waits means the pool was starved (every thread blocked). Either, beyond <c>threshold</c>, is
/// logged as a warning with both figures, so that a member marked unreachable can be traced to its cause.
/// </summary>
public sealed class StallWatch : IDisposable
{
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _interval, _threshold;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private TimeSpan _last;

    private StallWatch(ILoggingAdapter log, TimeSpan interval, TimeSpan threshold)
    {
        _log = log;
        _interval = interval;
        _threshold = threshold;
        _thread = new Thread(Watch) { IsBackground = true, Name = "gpuckpt-stall-watch" };
    }

    /// <summary>Starts watching; stops when the actor system terminates.</summary>
    public static StallWatch Start(ActorSystem system, TimeSpan interval, TimeSpan threshold)
    {
        var watch = new StallWatch(Logging.GetLogger(system, typeof(StallWatch)), interval, threshold);
        watch._thread.Start();
        system.RegisterOnTermination(watch.Dispose);
        return watch;
    }

    /// <summary>The largest delay seen so far, of either kind.</summary>
    public TimeSpan Worst { get; private set; }

    private void Watch()
    {
        var clock = Stopwatch.StartNew();
        var ran = new ManualResetEventSlim();
        while (!_stop.Wait(_interval))
        {
            var woke = clock.Elapsed;
            ran.Reset();
            ThreadPool.UnsafeQueueUserWorkItem(static e => e.Set(), ran, preferLocal: false);
            var pending = ThreadPool.PendingWorkItemCount;
            var waited = Stopwatch.StartNew();
            while (!ran.Wait(_threshold))
            {
                if (_stop.IsSet) return;
            }
            var pool = waited.Elapsed;
            // The sleep itself was due after one interval: anything beyond it is time the process was not scheduled.
            var cpu = woke - _last - _interval;
            _last = clock.Elapsed;
            var worst = cpu > pool ? cpu : pool;
            if (worst > Worst) Worst = worst;
            if (cpu >= _threshold || pool >= _threshold)
                _log.Warning("node stalled: its watch thread woke {0:F2} s late (no CPU), a thread-pool work item waited {1:F2} s " +
                             "({2} pool threads, {3} items queued); heartbeats may have been late as long", cpu.TotalSeconds, pool.TotalSeconds,
                    ThreadPool.ThreadCount, pending);
        }
    }

    public void Dispose()
    {
        _stop.Set();
    }
}
