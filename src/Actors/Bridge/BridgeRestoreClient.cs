using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Bridge;

namespace Gpuckpt.Actors.Bridge;

/// <summary>
/// The client of one held restore job a bridge restore runs: starts it, completes <c>held</c> when it reaches its hold
/// (or fails), passes the decision (<see cref="ReleaseRestore"/>) to the job, and completes <c>done</c> with its end.
/// Bounded as a CLI's <see cref="JobWait"/> is, by what can be seen rather than by the job's length: the jobs actor and
/// the job are watched, and the actor waited on is pinged, so a stopped or stuck engine fails the hook within
/// seconds instead of holding CRIU's restore.
/// </summary>
public sealed class BridgeRestoreClient : ReceiveActor, IWithTimers
{
    private readonly IActorRef _jobs;
    private readonly RestoreRequest _request;
    private readonly string _jobId;
    private readonly JobWaitSettings _settings;
    private readonly TaskCompletionSource<BridgeRestoreOutcome> _held, _done;
    private readonly Stopwatch _sinceHeard = Stopwatch.StartNew();
    private IActorRef? _job;
    private ReleaseRestore? _early;
    private long _pings;

    public BridgeRestoreClient(IActorRef jobs, RestoreRequest request, JobWaitSettings settings,
        TaskCompletionSource<BridgeRestoreOutcome> held, TaskCompletionSource<BridgeRestoreOutcome> done)
    {
        _jobs = jobs;
        _request = request;
        _jobId = request.JobId ?? throw new ArgumentException("a bridge restore names its job", nameof(request));
        _settings = settings;
        _held = held;
        _done = done;
        Receive<JobFollowed>(followed => Follow(followed.Job));
        Receive<JobPong>(_ => _sinceHeard.Restart());
        Receive<PingTick>(_ => Ping());
        Receive<Terminated>(t => Lose(t.ActorRef.Equals(_jobs)
            ? $"the engine's jobs actor stopped before restore job {_jobId} ended"
            : $"restore job {_jobId} stopped before it ended"));
        Receive<RestoreHeld>(h =>
        {
            Follow(Sender);
            _sinceHeard.Restart();
            held.TrySetResult(new BridgeRestoreOutcome(true,
                $"{h.Summary.Bytes} bytes, {h.Summary.Bos} BOs, {h.Summary.Devices} devices in {h.Summary.Seconds:F2} s (job {h.Summary.JobId})"));
            if (_early is { } early) Sender.Tell(early);
        });
        Receive<ReleaseRestore>(r =>
        {
            if (!_held.Task.IsCompleted) _early = r;
            else _job?.Tell(r);
        });
        Receive<RestoreCompleted>(c => End(new BridgeRestoreOutcome(true, $"job {c.Summary.JobId} resumed pid {c.Summary.Pid}")));
        Receive<RestoreFailed>(f => End(new BridgeRestoreOutcome(false, f.Reason)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef jobs, RestoreRequest request, JobWaitSettings settings,
        TaskCompletionSource<BridgeRestoreOutcome> held, TaskCompletionSource<BridgeRestoreOutcome> done) =>
        Akka.Actor.Props.Create(() => new BridgeRestoreClient(jobs, request, settings, held, done));

    protected override void PreStart()
    {
        Context.Watch(_jobs);
        _jobs.Tell(new FollowJob(_jobId));
        _jobs.Tell(_request);
        Timers.StartPeriodicTimer(PingTick.Instance, PingTick.Instance, _settings.PingEvery);
    }

    protected override void PostStop() => Lose($"restore job {_jobId} was still running when its engine stopped", stop: false);

    private void Follow(IActorRef job)
    {
        if (job.Equals(_job)) return;
        _job = job;
        Context.Watch(job);
    }

    private void Ping()
    {
        if (_sinceHeard.Elapsed > _settings.Silence)
        {
            Lose($"restore job {_jobId} answered nothing for {_sinceHeard.Elapsed.TotalSeconds:F0} s (gpuckpt.jobs.wait.silence): its engine is stuck");
            return;
        }
        (_job ?? _jobs).Tell(new JobPing(++_pings));
    }

    private void End(BridgeRestoreOutcome outcome)
    {
        _held.TrySetResult(outcome);
        _done.TrySetResult(outcome);
        Context.Stop(Self);
    }

    private void Lose(string reason, bool stop = true)
    {
        var outcome = new BridgeRestoreOutcome(false, reason);
        _held.TrySetResult(outcome);
        _done.TrySetResult(outcome);
        if (stop) Context.Stop(Self);
    }

    private sealed class PingTick : INoSerializationVerificationNeeded
    {
        public static readonly PingTick Instance = new();
        private PingTick() { }
    }
}
