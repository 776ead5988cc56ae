using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

/// <summary>
/// A TestKit whose every message crosses the real serializer, with the engine's HOCON and small chunks so that
/// tests exercise many chunks per BO.
/// </summary>
public abstract class EngineSpec : Akka.TestKit.Xunit2.TestKit
{
    public const string TestOverrides = """
        akka.actor.serialize-messages = on
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        gpuckpt.copy.chunk-size = 256KiB
        gpuckpt.copy.pool-chunks = 8
        gpuckpt.copy.workers-per-device = 3
        """;

    protected static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The engines of a test run sign and check with one key of their own, kept out of the user's state directory.</summary>
    protected static readonly string KeyFile = Path.Combine(Path.GetTempPath(), $"gpuckpt-engine-spec-{Environment.ProcessId}", "image.key");

    private static readonly string KeyFileOverride = $"gpuckpt.images.key-file = \"{KeyFile}\"";

    protected EngineSpec(ITestOutputHelper output, string? extra = null)
        : base(EngineConfig.Load(overrides: TestOverrides + "\n" + KeyFileOverride + (extra is null ? "" : "\n" + extra)), "engine-spec", output)
    {
        Out = output;
        Settings = EngineSettings.From(Sys.Settings.Config);
        Pool = new ChunkPool(Settings.ChunkSize, Settings.PoolChunks);
    }

    protected ITestOutputHelper Out { get; }
    protected EngineSettings Settings { get; }
    protected ChunkPool Pool { get; }

    protected IActorRef Jobs(IGpuDriver driver) => Jobs(driver, Settings);

    protected IActorRef Jobs(IGpuDriver driver, EngineSettings settings) => Sys.ActorOf(JobsActor.Props(driver, settings, Pool));

    protected async Task<CheckpointSummary> Checkpoint(IGpuDriver driver, uint pid, string dir, bool leaveRunning = false)
    {
        Jobs(driver).Tell(new CheckpointRequest(pid, dir, leaveRunning), TestActor);
        var reply = await ExpectMsgAsync<ICheckpointMessage>(JobTimeout);
        return reply switch
        {
            CheckpointCompleted c => c.Summary,
            CheckpointFailed f => throw new Xunit.Sdk.XunitException($"checkpoint of pid {pid} failed: {f.Reason}"),
            _ => throw new Xunit.Sdk.XunitException($"unexpected reply {reply}"),
        };
    }

    protected async Task<RestoreSummary> Restore(IGpuDriver driver, string dir)
    {
        Jobs(driver).Tell(new RestoreRequest(dir), TestActor);
        var reply = await ExpectMsgAsync<IRestoreMessage>(JobTimeout);
        return reply switch
        {
            RestoreCompleted c => c.Summary,
            RestoreFailed f => throw new Xunit.Sdk.XunitException($"restore of {dir} failed: {f.Reason}"),
            _ => throw new Xunit.Sdk.XunitException($"unexpected reply {reply}"),
        };
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        Pool.Dispose();
    }
}
