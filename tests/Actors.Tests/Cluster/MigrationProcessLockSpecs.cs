using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// A node's migration and a CLI's checkpoint of one pid meet on the pid's lock, though each has a state directory of its
/// own: whichever comes second is refused in one line naming the holder, before it pauses anything, and the first goes
/// on to its end with the process paused and unpaused once.
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class MigrationProcessLockSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-migration-lock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_checkpoint_of_a_pid_being_migrated_and_a_migration_of_a_pid_being_checkpointed_are_refused_naming_the_holder()
    {
        await using var cluster = new TestCluster(2, postgres: null);
        await cluster.StartAll();
        var a = cluster.Clients["a"];
        var moving = a.Spawn(WorkloadRequest.Named("train", 43, sizeBytes: 4UL << 20));
        var saved = a.Spawn(WorkloadRequest.Named("train", 47, sizeBytes: 4UL << 20));
        a.Run(moving, 1);
        a.Run(saved, 1);
        foreach (var gpu in a.Topology()) a.SetCopyDelay(gpu.GpuId, 8_000_000); // 8 s a MiB: each holds its pid while the other asks

        // The migration holds the pid: a CLI checkpoint of it is refused.
        using (var migrating = GpuckptProcess.Start(["migrate", "--pid", $"{moving}", "--from", "a", "--to", "b", "--node", cluster.Address("a"),
                   "--config", Path.Combine(cluster.Dir, "node.conf")]))
        {
            Assert.True(await TestCluster.Eventually(() => migrating.HasExited || a.State(moving).Paused, TimeSpan.FromSeconds(90)),
                "the migration never paused its source");
            var refused = await Checkpoint(a, moving, "refused");
            Assert.True(refused.ExitCode == 1, refused.ToString());
            var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"gpuckpt: pid {moving} is being checkpointed by job migr-", line);
            Assert.False(Directory.Exists(Path.Combine(_dir, "refused")), "the refused checkpoint wrote an image");

            // The CLI checkpoint holds the other pid: a migration of it is refused before anything is paused.
            using var checkpointing = GpuckptProcess.Start(["checkpoint", "--driver", $"sim:{a.SocketPath}", "--pid", $"{saved}",
                "--images", Path.Combine(_dir, "saved"), "--state-dir", Path.Combine(_dir, "state"), "--leave-running", "--json"]);
            Assert.True(await TestCluster.Eventually(() => checkpointing.HasExited || a.State(saved).Paused, TimeSpan.FromSeconds(90)),
                "the checkpoint never paused its process");
            var busy = await cluster.Cli("migrate", "--pid", $"{saved}", "--from", "a", "--to", "b", "--node", cluster.Address("a"));
            Assert.True(busy.ExitCode == 1, busy.ToString());
            Assert.Contains($"pid {saved} is being checkpointed by job ckpt-", Assert.Single(busy.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

            foreach (var gpu in a.Topology()) a.SetCopyDelay(gpu.GpuId, 0);
            var done = await checkpointing.WaitForExitAsync(TimeSpan.FromMinutes(3));
            Assert.True(done.ExitCode == 0, done.ToString());
            var moved = await migrating.WaitForExitAsync(TimeSpan.FromMinutes(3));
            Assert.True(moved.ExitCode == 0, moved.ToString());
        }

        // Each ran to its end alone: the migrated process left a; the checkpointed one runs on, paused and unpaused once.
        Assert.True(TestCluster.Gone(a, moving), $"pid {moving} is still on a after its migration");
        var state = a.State(saved);
        Assert.False(state.Paused);
        Assert.Equal(1, state.Counters.ProcessInfo);
        Assert.Equal(1, state.Counters.Unpause);
        Assert.True(Engine.Images.ImageVerifier.Verify(Path.Combine(_dir, "saved")).Ok);
    }

    private Task<GpuckptProcess.Result> Checkpoint(SimulatorClient sim, uint pid, string name) =>
        GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, name),
            "--state-dir", Path.Combine(_dir, "state-" + name), "--leave-running"], timeout: TimeSpan.FromMinutes(2));
}
