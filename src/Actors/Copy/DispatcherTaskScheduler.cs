using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Dispatch;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// Runs tasks on an Akka dispatcher declared in hocon/ (the I/O dispatcher's dedicated threads), so blocking copy I/O
/// never holds up the threads that run actors, however many BOs wait for their turn.
/// </summary>
internal sealed class DispatcherTaskScheduler(MessageDispatcher dispatcher, int threads) : TaskScheduler
{
    private static readonly ConditionalWeakTable<ActorSystem, DispatcherTaskScheduler> Schedulers = new();

    /// <summary>The scheduler of <see cref="EngineSettings.IoDispatcher"/> in this actor system (one per system).</summary>
    public static TaskScheduler For(ActorSystem system) => Schedulers.GetValue(system, s => new DispatcherTaskScheduler(
        s.Dispatchers.Lookup(EngineSettings.IoDispatcher),
        s.Settings.Config.GetInt($"{EngineSettings.IoDispatcher}.dedicated-thread-pool.thread-count", 4)));

    public override int MaximumConcurrencyLevel => threads;

    protected override void QueueTask(Task task) => dispatcher.Schedule(() => TryExecuteTask(task));

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => [];
}
