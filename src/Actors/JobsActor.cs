using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors;

/// <summary>
/// The engine's entry point on a node: starts one persistent job actor per checkpoint or restore (each replies to
/// whoever asked) and continues journalled jobs on <see cref="ResumeJob"/>. Job ids say their kind: ckpt-… / rest-….
/// It watches its jobs: one that dies without having answered is answered for, with a failure saying why; a client's
/// <see cref="JobWait"/> follows a job (<see cref="FollowJob"/>) to watch it too.
/// A checkpoint starts only once it holds its process's claim (<see cref="ProcessClaim"/>, in the journal): a second
/// job on a process is refused with the job that holds it; the claim is let go when the holder answers.
/// </summary>
public sealed class JobsActor : ReceiveActor
{
    public const string CheckpointPrefix = "ckpt-", RestorePrefix = "rest-";

    private readonly IGpuDriver _driver;
    private readonly EngineSettings _settings;
    private readonly ChunkPool _pool;
    private readonly Dictionary<string, Running> _running = new();
    private readonly List<IActorRef> _drainWaiters = [];
    private readonly Dictionary<string, (Props Props, IActorRef ReplyTo, Func<string, object> Failure)> _claiming = new();
    private readonly Dictionary<string, string> _claimingKeys = new();
    private readonly Dictionary<string, string> _holds = new();
    private readonly Dictionary<IActorRef, (string JobId, string Key)> _claims = new();
    private readonly Dictionary<string, InterruptJob> _interrupted = new();
    private readonly Dictionary<string, List<IActorRef>> _followers = new();
    private bool _draining;

    public JobsActor(IGpuDriver driver, EngineSettings settings, ChunkPool pool)
    {
        _driver = driver;
        _settings = settings;
        _pool = pool;
        Receive<CheckpointRequest>(request => Checkpoint(request, live: false));
        Receive<LiveCheckpointRequest>(live => Checkpoint(live.Request, live: true));
        Receive<PackedCheckpointRequest>(packed => Checkpoint(packed.Request, live: false, pack: true));
        Receive<ClaimGranted>(granted =>
        {
            _claimingKeys.Remove(granted.Key);
            if (!_claiming.Remove(granted.JobId, out var pending)) return;
            _holds[granted.JobId] = granted.Key;
            Start(granted.JobId, pending.Props, pending.Failure, pending.ReplyTo);
        });
        Receive<ClaimRefused>(refused =>
        {
            _claimingKeys.Remove(refused.Key);
            if (_claiming.Remove(refused.JobId, out var pending))
                pending.ReplyTo.Tell(pending.Failure(Held(refused.Key, refused.Holder, refused.What)));
        });
        Receive<ClaimFailed>(failed => ClaimEnded(failed.JobId, failed.Key, $"cannot claim process {Process(failed.Key)}: {failed.Reason}"));
        Receive<ClaimRefusedPaused>(refused =>
        {
            _claimingKeys.Remove(refused.Key);
            if (_claiming.Remove(refused.JobId, out var pending))
                pending.ReplyTo.Tell(pending.Failure(LeftPaused(refused.Key, refused.PausedBy)));
        });
        Receive<JobHolds>(holds => _holds[holds.JobId] = holds.Key);
        Receive<RestoreRequest>(request => Restore(request, null));
        Receive<RestoreCheckedCopy>(copy => Restore(copy.Request, copy.ManifestSha256, copy.ThroughPageCache));
        Receive<ResumeJob>(resume => Take(resume.JobId, JobControl.Resume));
        Receive<ControlJob>(control => Take(control.JobId, control.Control));
        Receive<InterruptJob>(interrupt =>
        {
            // Not started yet (its claim is being made): it is told as soon as it is.
            if (Context.Child(interrupt.JobId) is { } job && !job.IsNobody()) job.Forward(interrupt);
            else _interrupted[interrupt.JobId] = interrupt;
        });
        Receive<FollowJob>(follow =>
        {
            if (Context.Child(follow.JobId) is { } job && !job.IsNobody()) Sender.Tell(new JobFollowed(follow.JobId, job));
            else if (_followers.TryGetValue(follow.JobId, out var waiting)) waiting.Add(Sender);
            else _followers[follow.JobId] = [Sender];
        });
        Receive<JobPing>(ping => Sender.Tell(new JobPong(ping.Seq)));
        Receive<ListJobs>(_ => Sender.Tell(new RunningJobs([.. _running.Keys.Order(StringComparer.Ordinal)])));
        Receive<DrainJobs>(_ =>
        {
            _draining = true;
            _drainWaiters.Add(Sender);
            ReplyIfDrained();
        });
        Receive<JobEnded>(ended =>
        {
            if (_running.TryGetValue(ended.JobId, out var job)) job.Answered = true;
            // It let go of its claim before it answered (a job that died unanswered keeps it until resumed).
            _holds.Remove(ended.JobId);
        });
        Receive<JobCrashed>(crashed =>
        {
            if (_running.TryGetValue(crashed.JobId, out var job)) job.Crash ??= crashed.Reason;
        });
        Receive<Terminated>(t =>
        {
            if (_claims.Remove(t.ActorRef, out var claim))
            {
                ClaimEnded(claim.JobId, claim.Key, $"cannot claim process {Process(claim.Key)}: its claim stopped before it answered (the journal failed)");
                return;
            }
            var id = t.ActorRef.Path.Name;
            if (_running.Remove(id, out var job) && !job.Answered)
                job.ReplyTo.Tell(job.Failure($"job {id} stopped before it finished: {job.Crash ?? "it stopped unexpectedly"}; `gpuckpt resume {id}` continues it"));
            ReplyIfDrained();
        });
    }

    /// <summary>Takes a journalled job up again to continue, abort or forget it.</summary>
    private void Take(string id, JobControl control)
    {
        if (id.StartsWith(RestorePrefix, StringComparison.Ordinal))
            Start(id, RestoreCoordinator.Props(id, null, _driver, _settings, _pool, Sender, control), reason => new RestoreFailed("", reason));
        else
            Start(id, CheckpointSupervisor.Props(id, null, _driver, _settings, _pool, Sender, control), reason => new CheckpointFailed(0, reason, false));
    }

    public static Props Props(IGpuDriver driver, EngineSettings settings, ChunkPool pool) =>
        Akka.Actor.Props.Create(() => new JobsActor(driver, settings, pool));

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A job that throws is a bug: stop it; <see cref="Terminated"/> then answers its client.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    private void ReplyIfDrained()
    {
        if (!_draining || _running.Count > 0) return;
        foreach (var waiter in _drainWaiters) waiter.Tell(JobsDrained.Instance);
        _drainWaiters.Clear();
    }

    /// <summary>Claims the process for job <paramref name="id"/>, then starts it; refuses at once while another claim on it is in flight.</summary>
    private void Claim(string id, string key, string what, Props props, Func<string, object> failure)
    {
        if (_draining)
        {
            Start(id, props, failure); // refuses: nothing may be claimed for a job that will not run
            return;
        }
        var holder = _claimingKeys.TryGetValue(key, out var claiming) ? claiming : _holds.FirstOrDefault(h => h.Value == key && h.Key != id).Key;
        if (holder is not null)
        {
            Sender.Tell(failure(Held(key, holder, "running in this engine")));
            return;
        }
        _claimingKeys[key] = id;
        _claiming[id] = (props, Sender, failure);
        // Watched: a claim that dies without answering (its journal failed) must not leave the client waiting.
        var claim = Context.ActorOf(ProcessClaim.Claim(key, id, what, Self), $"claim-{Guid.NewGuid():N}");
        Context.Watch(claim);
        _claims[claim] = (id, key);
    }

    /// <summary>A claim that could not be made: its job never starts, and its client is told why, once.</summary>
    private void ClaimEnded(string id, string key, string reason)
    {
        if (_claimingKeys.TryGetValue(key, out var claiming) && claiming == id) _claimingKeys.Remove(key);
        if (_claiming.Remove(id, out var pending)) pending.ReplyTo.Tell(pending.Failure(reason));
    }

    private static string Process(string key) => key[(key.IndexOf('|') + 1)..];

    private static string Held(string key, string holder, string what) =>
        $"process {Process(key)} is held by job {holder} ({what}): wait for it to finish, or, if it was interrupted or its engine died, " +
        $"`gpuckpt resume {holder}` continues it and `gpuckpt abort {holder}` ends it";

    private static string LeftPaused(string key, string pausedBy)
    {
        var pid = key[(key.LastIndexOf('|') + 1)..];
        return $"pid {pid} is still paused by the finished checkpoint job {pausedBy}, whose image holds its state: pausing it " +
               $"again would evict its queues a second time, which its one UNPAUSE cannot undo; `gpuckpt unpause --pid {pid}` lets it run again";
    }

    private void Restore(RestoreRequest request, string? checkedManifest, bool? throughPageCache = null)
    {
        var id = request.JobId ?? NewId(RestorePrefix);
        Start(id, RestoreCoordinator.Props(id, request with { JobId = id }, _driver, _settings, _pool, Sender, checkedManifest: checkedManifest,
                throughPageCache: throughPageCache),
            reason => new RestoreFailed(request.ImagesDir, reason));
    }

    private void Checkpoint(CheckpointRequest request, bool live, bool pack = false)
    {
        var id = request.JobId ?? NewId(CheckpointPrefix);
        Claim(id, ProcessClaim.KeyOf(_driver.Name, request.Pid), $"{(live ? "live " : "")}checkpoint of pid {request.Pid} into {request.ImagesDir}",
            CheckpointSupervisor.Props(id, request with { JobId = id }, _driver, _settings, _pool, Sender, live: live, pack: pack),
            reason => new CheckpointFailed(request.Pid, reason, false));
    }

    private void Start(string id, Props props, Func<string, object> failure) => Start(id, props, failure, Sender);

    private void Start(string id, Props props, Func<string, object> failure, IActorRef replyTo)
    {
        if (_draining)
        {
            replyTo.Tell(new Status.Failure(new InvalidOperationException($"job {id} refused: this node is leaving the cluster")));
            return;
        }
        if (!Context.Child(id).IsNobody())
        {
            replyTo.Tell(new Status.Failure(new InvalidOperationException($"job {id} is already running")));
            return;
        }
        var job = Context.ActorOf(props, id);
        Context.Watch(job);
        _running[id] = new Running(replyTo, failure);
        if (_interrupted.Remove(id, out var interrupt)) job.Tell(interrupt);
        if (_followers.Remove(id, out var followers))
            foreach (var follower in followers) follower.Tell(new JobFollowed(id, job));
    }

    private sealed class Running(IActorRef replyTo, Func<string, object> failure)
    {
        public IActorRef ReplyTo { get; } = replyTo;
        public Func<string, object> Failure { get; } = failure;
        public bool Answered { get; set; }
        public string? Crash { get; set; }
    }
}
