using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// `gpuckpt migrate --live` between nodes while the process keeps stepping: the copy runs in rounds while it runs, the
/// pause copies only what the last round left, and the moved process continues exactly like a twin stepped as often.
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class LiveMigrationSpecs(ITestOutputHelper output)
{
    private const ulong Size = 64UL << 20, StepsBefore = 2, StepsAfter = 3;

    [Fact]
    public async Task A_serving_process_moves_while_it_runs_and_is_paused_only_for_what_it_wrote_last()
    {
        // final-bytes 0: a round is never small enough by itself, so the rounds go on until they stop shrinking.
        await using var cluster = new TestCluster(3, null, "gpuckpt.migration.live.final-bytes = 0");
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 21);

        var (result, steps) = await MigrateLive(cluster, pid);

        Assert.True(result.ExitCode == 0, $"migrate --live failed: {result}");
        var json = MigrationSpecs.Json(result);
        var rounds = json.GetProperty("live_rounds").EnumerateArray().Select(r => (Bytes: r.GetProperty("bytes").GetInt64(), Paused: r.GetProperty("paused").GetBoolean())).ToList();
        output.WriteLine($"{steps} steps served during the migration; rounds: {string.Join(", ", rounds.Select(r => r.Bytes))}");
        Assert.True(rounds.Count >= 3, $"a first round, a round of what was written meanwhile and the paused one: {rounds.Count} rounds");
        Assert.True(rounds[0].Bytes >= (long)(Size / 8 * 7), $"the first round copies the whole memory: {rounds[0].Bytes} bytes");
        Assert.True(rounds[^1].Paused && rounds.Take(rounds.Count - 1).All(r => !r.Paused), "only the last round is paused");
        // serve rewrites two of its 32 KV blocks per step: the pause copies those chunks, not the weights.
        Assert.True(rounds[^1].Bytes <= (long)(Size / 8), $"the paused round copied {rounds[^1].Bytes} bytes of {Size}");

        var target = json.GetProperty("target_pid").GetUInt32();
        var a = cluster.Clients["a"];
        Assert.True(TestCluster.Gone(a, pid), $"pid {pid} still exists on a after the migration");
        var b = cluster.Clients["b"];
        Assert.Equal(1, b.State(target).Counters.Resume);
        SameContinuation(b, target, a, twin, steps, "the process moved live");
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task A_target_that_fails_its_restore_in_the_last_pause_rolls_back_and_the_source_serves_on()
    {
        await using var cluster = new TestCluster(3, null);
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 23);
        // KFD RESTORE on b cannot allocate the process's VRAM: found once the source is paused for good.
        cluster.Clients["b"].InjectFault(new SimFault(0, SimOp.Restore, Errno.ENOMEM));

        var (result, steps) = await MigrateLive(cluster, pid);

        Assert.True(result.ExitCode == 1, $"migrate --live did not fail: {result}");
        var failed = MigrationSpecs.Json(result);
        Assert.True(failed.GetProperty("step").GetString() == "restore" && failed.GetProperty("reason").GetString()!.Contains("ENOMEM"), $"{result}");
        Assert.True(failed.GetProperty("source_resumed").GetBoolean(), $"source not resumed: {result}");
        // Paused twice (to list its BOs, then for the last round), unpaused after each: the kernel's count is back to zero.
        var source = cluster.Clients["a"].State(pid);
        Assert.True(source.Running && source.Counters.ProcessInfo == 2 && source.Counters.Unpause == 2 && source.Counters.Evictions == 0,
            $"the source was not paused and unpaused twice: {source}");
        SameContinuation(cluster.Clients["a"], pid, cluster.Clients["a"], twin, steps, "the source after the rollback");
    }

    [TmpfsFact]
    [Trait("Tier", "Full")]
    public async Task A_target_whose_disk_fills_during_the_running_rounds_rolls_back_and_the_source_never_stops_again()
    {
        // b's state directory holds 4 MiB: the first round's 64 MiB cannot land there.
        using var disk = SmallTmpfs.Mount(4 << 20);
        await using var cluster = new TestCluster(3, null, stateDirs: new Dictionary<string, string> { ["b"] = disk.Path });
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 29);

        var (result, steps) = await MigrateLive(cluster, pid);

        Assert.True(result.ExitCode == 1, $"migrate --live did not fail: {result}");
        var failed = MigrationSpecs.Json(result);
        Assert.True(failed.GetProperty("reason").GetString()!.Contains("ENOSPC"), $"{result}");
        Assert.True(failed.GetProperty("source_resumed").GetBoolean(), $"source not resumed: {result}");
        // Paused once, to list its BOs, and unpaused then: the rollback found it running.
        var source = cluster.Clients["a"].State(pid);
        Assert.True(source.Running && source.Counters.ProcessInfo == 1 && source.Counters.Unpause == 1 && source.Counters.Evictions == 0,
            $"the source was not paused and unpaused once: {source}");
        SameContinuation(cluster.Clients["a"], pid, cluster.Clients["a"], twin, steps, "the source after the rollback");
        Assert.True(await TestCluster.Eventually(() => !Directory.Exists(Path.Combine(cluster.StateDir("a"), "migrations", "out"))
                || !Directory.EnumerateFileSystemEntries(Path.Combine(cluster.StateDir("a"), "migrations", "out")).Any(), TimeSpan.FromSeconds(30)),
            "a kept the rolled back migration's image");
    }

    /// <summary>A serve process and its twin on a, both stepped as far.</summary>
    private static (uint Pid, uint Twin) Spawn(TestCluster cluster, ulong seed)
    {
        var a = cluster.Clients["a"];
        var pid = a.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: Size));
        var twin = a.Spawn(WorkloadRequest.Named("serve", seed, sizeBytes: Size));
        a.Run(pid, StepsBefore);
        a.Run(twin, StepsBefore);
        return (pid, twin);
    }

    /// <summary>`migrate --live` of <paramref name="pid"/> while it serves: a step each millisecond, until it is released or the migration ends.</summary>
    private static async Task<(GpuckptProcess.Result Result, ulong Steps)> MigrateLive(TestCluster cluster, uint pid)
    {
        using var serving = Serving.Start(cluster.Simulators["a"].SocketPath, pid);
        var result = await cluster.CliWithin(TimeSpan.FromMinutes(3), "migrate", "--pid", $"{pid}", "--from", "a", "--to", "b",
            "--node", cluster.Address("c"), "--live", "--json");
        return (result, await serving.Stop());
    }

    /// <summary>The twin takes the steps served during the migration, then both go on: the same step, the same bytes.</summary>
    private static void SameContinuation(SimulatorClient node, uint pid, SimulatorClient twinNode, uint twin, ulong served, string because)
    {
        twinNode.Run(twin, served + StepsAfter);
        node.Run(pid, StepsAfter);
        var (moved, uninterrupted) = (node.State(pid), twinNode.State(twin));
        Assert.True(moved.Step == uninterrupted.Step && moved.Digest == uninterrupted.Digest,
            $"{because}: step {moved.Step} digest {moved.Digest}; its twin: step {uninterrupted.Step} digest {uninterrupted.Digest}");
    }
}
