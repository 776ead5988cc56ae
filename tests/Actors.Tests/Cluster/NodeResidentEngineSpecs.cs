using System.Text.Json;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// A `gpuckpt node` is also the resident engine of its state directory: a checkpoint and a restore run on its machine
/// with its driver, state directory and journal have their jobs run in the node, and the restore brings back the bytes
/// saved.
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class NodeResidentEngineSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-node-resident-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [Trait("Tier", "Full")]
    public async Task Checkpoint_and_restore_with_a_node_s_driver_and_state_directory_run_in_the_node()
    {
        await using var cluster = new TestCluster(1, postgres: null, processes: true);
        await cluster.StartAll();
        var a = cluster.Clients["a"];
        var pid = a.Spawn(WorkloadRequest.Named("train", (ulong)TestSeed.Fresh(), sizeBytes: 4UL << 20));
        a.Run(pid, 1);
        string[] Node(params string[] args) => [.. args, "--driver", cluster.Driver("a"), "--state-dir", cluster.StateDir("a"), "--journal", cluster.Journal, "--json"];

        var saved = await GpuckptProcess.RunAsync(Node("checkpoint", "--pid", $"{pid}", "--images", Path.Combine(_dir, "image"), "--leave-running"),
            timeout: TimeSpan.FromMinutes(2));
        Assert.True(saved.ExitCode == 0, saved.ToString());
        Assert.Equal("resident", JsonDocument.Parse(saved.Stdout).RootElement.GetProperty("engine").GetString());
        var digest = a.State(pid).Digest;
        a.Run(pid, 1);

        var restored = await GpuckptProcess.RunAsync(Node("restore", "--images", Path.Combine(_dir, "image")), timeout: TimeSpan.FromMinutes(2));
        Assert.True(restored.ExitCode == 0, restored.ToString());
        var json = JsonDocument.Parse(restored.Stdout).RootElement;
        Assert.Equal("resident", json.GetProperty("engine").GetString());
        Assert.Equal(digest, a.State(json.GetProperty("pid").GetUInt32()).Digest);
        Assert.Equal(1, a.State(pid).Counters.Unpause);
    }
}
