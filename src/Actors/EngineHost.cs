using Akka.Actor;
using Akka.Configuration;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors;

/// <summary>An ActorSystem running the engine against one driver: what the CLI and the tests start.</summary>
public sealed class EngineHost : IAsyncDisposable
{
    private EngineHost(ActorSystem system, EngineSettings settings, ChunkPool pool, IActorRef jobs)
    {
        System = system;
        Settings = settings;
        Pool = pool;
        Jobs = jobs;
    }

    public ActorSystem System { get; }
    public EngineSettings Settings { get; }
    public ChunkPool Pool { get; }
    public IActorRef Jobs { get; }

    /// <param name="tls">mutual TLS for remoting (a cluster member); null for an engine without remoting or without TLS</param>
    public static EngineHost Start(IGpuDriver driver, Config config, string name = "gpuckpt", Cluster.ClusterTls? tls = null)
    {
        Persistence.JournalCheck.Opens(config);
        return Attach(Cluster.ClusterTls.CreateSystem(name, config, tls), driver, config);
    }

    /// <summary>
    /// The engine in an ActorSystem started elsewhere (a node's, which its host starts): its chunk pool and jobs actor.
    /// The caller has checked that the journal <paramref name="config"/> names opens (<see cref="Persistence.JournalCheck"/>).
    /// </summary>
    public static EngineHost Attach(ActorSystem system, IGpuDriver driver, Config config)
    {
        var settings = EngineSettings.From(config);
        var pool = new ChunkPool(settings.ChunkSize, settings.PoolChunks);
        return new EngineHost(system, settings, pool, system.ActorOf(JobsActor.Props(driver, settings, pool), "jobs"));
    }

    public static EngineHost Start(IGpuDriver driver, string? overrides = null, string name = "gpuckpt") =>
        Start(driver, EngineConfig.Load(overrides: overrides), name);

    /// <summary>
    /// Runs a checkpoint to its end: <see cref="CheckpointCompleted"/> or <see cref="CheckpointFailed"/>; a job that stops
    /// or goes silent is a <see cref="JobLostException"/> (<see cref="JobWait"/>). <paramref name="timeout"/> caps the whole job.
    /// </summary>
    /// <param name="pack">Pack the page files' chunks with LZ4 where that pays (<see cref="PackedCheckpointRequest"/>).</param>
    public async Task<ICheckpointMessage> CheckpointAsync(CheckpointRequest request, TimeSpan? timeout = null, bool pack = false) =>
        (ICheckpointMessage)await RunAsync(pack ? new PackedCheckpointRequest(request) : request, request.JobId, timeout).ConfigureAwait(false);

    /// <summary>Runs a restore to its end: <see cref="RestoreCompleted"/> or <see cref="RestoreFailed"/>, as <see cref="CheckpointAsync"/>.</summary>
    public async Task<IRestoreMessage> RestoreAsync(RestoreRequest request, TimeSpan? timeout = null) =>
        (IRestoreMessage)await RunAsync(request, request.JobId, timeout).ConfigureAwait(false);

    /// <summary>Sends <paramref name="request"/> for job <paramref name="jobId"/> to the jobs actor and waits on its answer (<see cref="JobWait"/>).</summary>
    public async Task<object> RunAsync(object request, string? jobId, TimeSpan? timeout = null)
    {
        var answer = JobWait.RunAsync(System, Jobs, request, jobId, Settings.Wait);
        return timeout is { } cap ? await answer.WaitAsync(cap).ConfigureAwait(false) : await answer.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await System.Terminate().ConfigureAwait(false);
        Pool.Dispose();
    }
}
