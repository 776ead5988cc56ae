using Akka.Actor;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Bridge;

namespace Gpuckpt.Actors.Bridge;

/// <summary>
/// The client of one held restore job a bridge restore runs: starts it, completes <c>held</c> when it reaches its hold
/// (or fails), passes the decision (<see cref="ReleaseRestore"/>) to the job, and completes <c>done</c> with its end.
/// </summary>
public sealed class BridgeRestoreClient : ReceiveActor
{
    private IActorRef? _job;
    private ReleaseRestore? _early;

    public BridgeRestoreClient(IActorRef jobs, RestoreRequest request, TaskCompletionSource<BridgeRestoreOutcome> held, TaskCompletionSource<BridgeRestoreOutcome> done)
    {
        Receive<RestoreHeld>(h =>
        {
            _job = Sender;
            held.TrySetResult(new BridgeRestoreOutcome(true,
                $"{h.Summary.Bytes} bytes, {h.Summary.Bos} BOs, {h.Summary.Devices} devices in {h.Summary.Seconds:F2} s (job {h.Summary.JobId})"));
            if (_early is { } early) _job.Tell(early);
        });
        Receive<ReleaseRestore>(r =>
        {
            if (_job is null) _early = r;
            else _job.Tell(r);
        });
        Receive<RestoreCompleted>(c =>
        {
            var outcome = new BridgeRestoreOutcome(true, $"job {c.Summary.JobId} resumed pid {c.Summary.Pid}");
            held.TrySetResult(outcome);
            done.TrySetResult(outcome);
            Context.Stop(Self);
        });
        Receive<RestoreFailed>(f =>
        {
            var outcome = new BridgeRestoreOutcome(false, f.Reason);
            held.TrySetResult(outcome);
            done.TrySetResult(outcome);
            Context.Stop(Self);
        });
        jobs.Tell(request, Self);
    }

    public static Props Props(IActorRef jobs, RestoreRequest request, TaskCompletionSource<BridgeRestoreOutcome> held, TaskCompletionSource<BridgeRestoreOutcome> done) =>
        Akka.Actor.Props.Create(() => new BridgeRestoreClient(jobs, request, held, done));
}
