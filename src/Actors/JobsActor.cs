using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors;

/// <summary>
/// The engine's entry point on a node: starts one persistent job actor per checkpoint or restore (each replies to
/// whoever asked) and continues journalled jobs on <see cref="ResumeJob"/>. Job ids say their kind: ckpt-… / rest-….
/// </summary>
public sealed class JobsActor : ReceiveActor
{
    public const string CheckpointPrefix = "ckpt-", RestorePrefix = "rest-";

    private readonly IGpuDriver _driver;
    private readonly EngineSettings _settings;
    private readonly ChunkPool _pool;
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
            Start(id, CheckpointSupervisor.Props(id, request with { JobId = id }, _driver, _settings, _pool, Sender));
        });
        Receive<RestoreRequest>(request =>
        {
            var id = request.JobId ?? NewId(RestorePrefix);
            Start(id, RestoreCoordinator.Props(id, request with { JobId = id }, _driver, _settings, _pool, Sender));
        });
        Receive<ListJobs>(_ => Sender.Tell(new RunningJobs([.. Context.GetChildren().Select(c => c.Path.Name).Order(StringComparer.Ordinal)])));
        Receive<DrainJobs>(_ =>
        {
            _draining = true;
            _drainWaiters.Add(Sender);
            ReplyIfDrained();
        });
        Receive<Terminated>(_ => ReplyIfDrained());
        Receive<ResumeJob>(resume =>
        {
            if (resume.JobId.StartsWith(RestorePrefix, StringComparison.Ordinal))
                Start(resume.JobId, RestoreCoordinator.Props(resume.JobId, null, _driver, _settings, _pool, Sender));
            else
                Start(resume.JobId, CheckpointSupervisor.Props(resume.JobId, null, _driver, _settings, _pool, Sender));
        });
    }

    public static Props Props(IGpuDriver driver, EngineSettings settings, ChunkPool pool) =>
        Akka.Actor.Props.Create(() => new JobsActor(driver, settings, pool));

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A job that throws is a bug: stop it (its reply never comes, so the asker's timeout reports it).</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    private void ReplyIfDrained()
    {
        if (!_draining || Context.GetChildren().Any()) return;
        foreach (var waiter in _drainWaiters) waiter.Tell(JobsDrained.Instance);
        _drainWaiters.Clear();
    }

    private void Start(string id, Props props)
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
        Context.Watch(Context.ActorOf(props, id));
    }
}
