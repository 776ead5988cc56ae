using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors;

/// <summary>The engine's entry point on a node: starts one supervisor per job; each replies to whoever asked.</summary>
public sealed class JobsActor : ReceiveActor
{
    private readonly IGpuDriver _driver;
    private readonly EngineSettings _settings;
    private readonly ChunkPool _pool;
    private int _jobs;

    public JobsActor(IGpuDriver driver, EngineSettings settings, ChunkPool pool)
    {
        _driver = driver;
        _settings = settings;
        _pool = pool;
        Receive<CheckpointRequest>(request =>
            Context.ActorOf(CheckpointSupervisor.Props(request, _driver, _settings, _pool, Sender), $"checkpoint-{request.Pid}-{++_jobs}"));
        Receive<RestoreRequest>(request =>
            Context.ActorOf(RestoreCoordinator.Props(request, _driver, _settings, _pool, Sender), $"restore-{++_jobs}"));
    }

    public static Props Props(IGpuDriver driver, EngineSettings settings, ChunkPool pool) =>
        Akka.Actor.Props.Create(() => new JobsActor(driver, settings, pool));

    /// <summary>A job that throws is a bug: stop it (its reply never comes, so the asker's timeout reports it).</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);
}
