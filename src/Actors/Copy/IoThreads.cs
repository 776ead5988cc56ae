using System.Runtime.CompilerServices;
using Akka.Actor;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// Dedicated threads for the copy's blocking I/O (mapping reads and writes, hashing, page-file writes and reads,
/// driver calls of BO actors): tasks queue here, so however many BOs wait for their turn, the threads that run actors
/// are never blocked and no more than <see cref="EngineSettings.IoThreads"/> run at once. One set per actor system.
/// </summary>
internal sealed class IoThreads : TaskScheduler, IDisposable
{
    private static readonly ConditionalWeakTable<ActorSystem, IoThreads> Systems = new();
    private readonly Queue<Task> _queue = new();
    private readonly object _gate = new();
    private readonly Thread[] _threads;
    private bool _stopping;

    private IoThreads(int count)
    {
        _threads = new Thread[Math.Max(1, count)];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"gpuckpt-io-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>The I/O threads of this actor system, started on first use and stopped when it terminates.</summary>
    public static TaskScheduler For(ActorSystem system) => Systems.GetValue(system, s =>
    {
        var threads = new IoThreads(EngineSettings.From(s.Settings.Config).IoThreads);
        s.RegisterOnTermination(threads.Dispose);
        return threads;
    });

    public override int MaximumConcurrencyLevel => _threads.Length;

    protected override void QueueTask(Task task)
    {
        lock (_gate)
        {
            _queue.Enqueue(task);
            Monitor.Pulse(_gate);
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_gate) return _queue.ToArray();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>An idle thread sleeps on the monitor: no spinning, which on a machine of two cores would take them from the copy.</summary>
    private void Work()
    {
        while (true)
        {
            Task task;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_stopping) Monitor.Wait(_gate);
                if (_queue.Count == 0) return;
                task = _queue.Dequeue();
            }
            TryExecuteTask(task);
        }
    }
}
