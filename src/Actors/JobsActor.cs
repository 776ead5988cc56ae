using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors;

/// <summary>
/// The engine's entry point on a node: starts one persistent job actor per checkpoint or restore (each replies to
/// whoever asked) and continues journalled jobs on <see cref="ResumeJob"/>. Job ids say their kind: ckpt-… / rest-….
/// It watches its jobs: one that dies without having answered is answered for, with a failure saying why.
/// </summary>
public sealed class JobsActor : ReceiveActor
{
    public const string CheckpointPrefix = "ckpt-", RestorePrefix = "rest-";

    private readonly IGpuDriver _driver;
    private readonly EngineSettings _settings;
    private readonly ChunkPool _pool;
    private readonly Dictionary<string, Running> _running = new();
    private readonly List<IActorRef> _drainWaiters = [];
    private bool _draining;

    public JobsActor(IGpuDriver driver, EngineSettings settings, ChunkPool pool)
    {
        _driver = driver;
        _settings = settings;
        _pool = pool;
        Receive<CheckpointRequest>(request =>
        {
            var id = request.JobId ?? NewId(CheckpointPrefix);
            Start(id, CheckpointSupervisor.Props(id, request with { JobId = id }, _driver, _settings, _pool, Sender),
                reason => new CheckpointFailed(request.Pid, reason, false));
        });
        Receive<RestoreRequest>(request =>
        {
            var id = request.JobId ?? NewId(RestorePrefix);
            Start(id, RestoreCoordinator.Props(id, request with { JobId = id }, _driver, _settings, _pool, Sender),
                reason => new RestoreFailed(request.ImagesDir, reason));
        });
        Receive<ResumeJob>(resume =>
        {
            if (resume.JobId.StartsWith(RestorePrefix, StringComparison.Ordinal))
                Start(resume.JobId, RestoreCoordinator.Props(resume.JobId, null, _driver, _settings, _pool, Sender),
                    reason => new RestoreFailed("", reason));
            else
                Start(resume.JobId, CheckpointSupervisor.Props(resume.JobId, null, _driver, _settings, _pool, Sender),
                    reason => new CheckpointFailed(0, reason, false));
        });
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
        });
        Receive<JobCrashed>(crashed =>
        {
            if (_running.TryGetValue(crashed.JobId, out var job)) job.Crash ??= crashed.Reason;
        });
        Receive<Terminated>(t =>
        {
            var id = t.ActorRef.Path.Name;
            if (_running.Remove(id, out var job) && !job.Answered)
                job.ReplyTo.Tell(job.Failure($"job {id} stopped before it finished: {job.Crash ?? "it stopped unexpectedly"}; `gpuckpt resume {id}` continues it"));
            ReplyIfDrained();
        });
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

    private void Start(string id, Props props, Func<string, object> failure)
    {
        if (_draining)
        {
            Sender.Tell(new Status.Failure(new InvalidOperationException($"job {id} refused: this node is leaving the cluster")));
            return;
        }
        if (!Context.Child(id).IsNobody())
        {
            Sender.Tell(new Status.Failure(new InvalidOperationException($"job {id} is already running")));
            return;
        }
        var job = Context.ActorOf(props, id);
        Context.Watch(job);
        _running[id] = new Running(Sender, failure);
    }

    private sealed class Running(IActorRef replyTo, Func<string, object> failure)
    {
        public IActorRef ReplyTo { get; } = replyTo;
        public Func<string, object> Failure { get; } = failure;
        public bool Answered { get; set; }
        public string? Crash { get; set; }
    }
}
