using Akka.Actor;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Bridge;

namespace Gpuckpt.Actors.Bridge;

/// <summary>
/// A bridge restore's GPU side, run as the engine's journalled restore job (device and BO actors) on the
/// <see cref="BridgeRestoreDriver"/>, held short of RESUME until CRIU's RESUME_DEVICES_LATE releases it. Its waits are
/// bounded by <see cref="BridgeRestoreClient"/>'s watch of the engine; <paramref name="timeout"/>, when given, caps them too.
/// </summary>
public sealed class BridgeRestores(EngineHost engine, TimeSpan? timeout = null) : IBridgeRestores
{
    private readonly TaskCompletionSource<BridgeRestoreOutcome> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<BridgeRestoreOutcome> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IActorRef? _client;

    public Task<BridgeRestoreOutcome> BuildAsync(string gpuImageDir, CancellationToken cancel)
    {
        if (_client is not null) throw new InvalidOperationException("this bridge restore already runs its job");
        var request = new RestoreRequest(gpuImageDir, JobsActor.NewId(JobsActor.RestorePrefix), HoldBeforeResume: true);
        _client = engine.System.ActorOf(BridgeRestoreClient.Props(engine.Jobs, request, engine.Settings.Wait, _held, _done));
        return Capped(_held.Task, cancel);
    }

    public Task<BridgeRestoreOutcome> ResumeAsync(CancellationToken cancel) => Release(new ReleaseRestore(true, "CRIU's RESUME_DEVICES_LATE"), cancel);

    public Task<BridgeRestoreOutcome> DiscardAsync(string reason, CancellationToken cancel) => Release(new ReleaseRestore(false, reason), cancel);

    private Task<BridgeRestoreOutcome> Release(ReleaseRestore release, CancellationToken cancel)
    {
        if (_client is null) return Task.FromResult(new BridgeRestoreOutcome(false, "no restore job was started"));
        if (_done.Task.IsCompleted) return _done.Task;
        _client.Tell(release);
        return Capped(_done.Task, cancel);
    }

    private Task<BridgeRestoreOutcome> Capped(Task<BridgeRestoreOutcome> task, CancellationToken cancel) =>
        timeout is { } cap ? task.WaitAsync(cap, cancel) : task.WaitAsync(cancel);
}
