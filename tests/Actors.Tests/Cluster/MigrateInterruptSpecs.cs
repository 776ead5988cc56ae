using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Ctrl-C during `gpuckpt migrate`: the migration is the source node's, so the command stops watching, says that it goes on
/// and how to watch it, and exits 130; the migration then completes in the nodes (the source gone from a, one copy on b).
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class MigrateInterruptSpecs
{
    [Fact]
    [Trait("Tier", "Full")]
    public async Task Ctrl_c_during_migrate_stops_watching_and_the_migration_goes_on_to_its_end()
    {
        await using var cluster = new TestCluster(2, postgres: null);
        await cluster.StartAll();
        var (a, b) = (cluster.Clients["a"], cluster.Clients["b"]);
        var pid = a.Spawn(WorkloadRequest.Named("train", 41, sizeBytes: 8UL << 20));
        a.Run(pid, 2);
        foreach (var gpu in a.Topology()) a.SetCopyDelay(gpu.GpuId, 8_000_000); // 8 s a MiB: still in its transfer when interrupted

        using (var migrating = GpuckptProcess.Start(["migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", cluster.Address("a"),
                   "--config", Path.Combine(cluster.Dir, "node.conf")]))
        {
            Assert.True(await TestCluster.Eventually(() => migrating.HasExited || a.State(pid).Paused, TimeSpan.FromSeconds(90)),
                "the migration never paused its source");
            Assert.False(migrating.HasExited, migrating.Output);
            migrating.Signal(2);
            var cut = await migrating.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(cut.ExitCode == 130, cut.ToString());
            var line = Assert.Single(cut.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"interrupted by SIGINT: the migration of pid {pid} from a to b goes on in the nodes (it is not cancelled)", line);
            Assert.Contains("`gpuckpt cluster status --node ", line);
        }
        foreach (var gpu in a.Topology()) a.SetCopyDelay(gpu.GpuId, 0);

        Assert.True(await TestCluster.Eventually(() => TestCluster.Gone(a, pid), TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(1)),
            "the migration did not go on to its end after the command was interrupted: the source is still on a");
        var status = await cluster.Cli("cluster", "status", "--node", cluster.Address("b"), "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        var onB = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == "b");
        var arrived = Assert.Single(onB.GetProperty("jobs").EnumerateArray(), j => j.GetProperty("kind").GetString() == "process");
        Assert.Contains("pid ", arrived.GetProperty("detail").GetString());
    }
}
