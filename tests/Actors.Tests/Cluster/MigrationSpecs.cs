using System.Text.Json;
using Gpuckpt.Actors.Tests.Persistence;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// `gpuckpt migrate` between three node processes (each with its own simulator): the process moves from a to b and
/// continues there exactly like an uninterrupted twin; a killed target, or one that runs out of VRAM or disk, rolls the
/// migration back (the source runs again after exactly one UNPAUSE, nothing stays on b); a killed source engine,
/// restarted, completes or rolls back with exactly one copy running; a target engine restarted mid-transfer takes up its
/// copy and the migration completes; a link broken mid-transfer costs only the
/// unconfirmed frames; a source told to leave finishes its migration first and refuses new ones; a restarted target
/// still lists the process that arrived.
/// </summary>
public abstract class MigrationSpecs(ITestOutputHelper output)
{
    private const ulong StepsBefore = 2, StepsAfter = 3;
    private const ulong Size = 8UL << 20;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    protected abstract string? Postgres();

    /// <summary>The process to move and its twin (same workload and seed, same simulator): the uninterrupted run.</summary>
    private static (uint Pid, uint Twin) Spawn(TestCluster cluster, ulong seed)
    {
        var a = cluster.Clients["a"];
        var pid = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: Size));
        var twin = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: Size));
        a.Run(pid, StepsBefore);
        a.Run(twin, StepsBefore);
        return (pid, twin);
    }

    private static Task<GpuckptProcess.Result> Migrate(TestCluster cluster, uint pid, TimeSpan? within = null) =>
        cluster.CliWithin(within ?? TimeSpan.FromMinutes(3), "migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", cluster.Address("c"), "--json");

    /// <summary>The JSON line of a --json run's stdout: the result, or the fields of a failure's "error" object.</summary>
    internal static JsonElement Json(GpuckptProcess.Result result) =>
        JsonDocument.Parse(result.Stdout.Split('\n').LastOrDefault(l => l.StartsWith('{'))
                           ?? throw new Xunit.Sdk.XunitException($"no JSON line from gpuckpt: {result}")).RootElement is var root
        && root.TryGetProperty("error", out var error) ? error : root;

    /// <summary>The jobs node <paramref name="node"/> reports, as `cluster status` through <paramref name="via"/> shows them; null when it gave no report.</summary>
    private static async Task<List<(string Kind, string Detail)>?> Jobs(TestCluster cluster, string via, string node)
    {
        var status = await cluster.Cli("cluster", "status", "--node", cluster.Address(via), "--json");
        Assert.True(status.ExitCode == 0, $"cluster status through {via} failed: {status}");
        var member = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == node);
        return member.GetProperty("jobs").ValueKind != JsonValueKind.Array ? null
            : [.. member.GetProperty("jobs").EnumerateArray().Select(j => (j.GetProperty("kind").GetString()!, j.GetProperty("detail").GetString()!))];
    }

    private static bool Empty(string dir) => !Directory.Exists(dir) || !Directory.EnumerateFileSystemEntries(dir).Any();


    /// <summary>Runs both on and compares: the copy continues exactly like the process that never moved.</summary>
    private static void SameContinuation(SimulatorClient copyNode, uint copy, SimulatorClient twinNode, uint twin, string because)
    {
        copyNode.Run(copy, StepsAfter);
        twinNode.Run(twin, StepsAfter);
        var (a, b) = (copyNode.State(copy), twinNode.State(twin));
        Assert.True(a.Step == b.Step && a.Digest == b.Digest, $"{because}: step {a.Step} digest {a.Digest}, uninterrupted: step {b.Step} digest {b.Digest}");
    }

    protected async Task A_process_moves_to_b_and_continues_there_like_an_uninterrupted_run()
    {
        await using var cluster = new TestCluster(3, Postgres());
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 11);

        var result = await Migrate(cluster, pid);

        Assert.True(result.ExitCode == 0, $"migrate failed: {result}");
        var json = Json(result);
        var target = json.GetProperty("target_pid").GetUInt32();
        output.WriteLine(result.Stdout);
        Assert.True(TestCluster.Gone(cluster.Clients["a"], pid), $"pid {pid} still exists on a after the migration");
        var moved = cluster.Clients["b"].State(target);
        Assert.Equal(1, moved.Counters.Resume);
        SameContinuation(cluster.Clients["b"], target, cluster.Clients["a"], twin, "the migrated process on b");
        Assert.Equal(0, json.GetProperty("bytes_resent").GetInt64());

        var status = await cluster.Cli("cluster", "status", "--node", cluster.Address("a"), "--json");
        var b = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == "b");
        Assert.Contains(b.GetProperty("jobs").EnumerateArray(),
            j => j.GetProperty("kind").GetString() == "process" && j.GetProperty("detail").GetString()!.Contains($"pid {target},"));
        Assert.True(Empty(Path.Combine(cluster.StateDir("a"), "migrations", "out")), "a kept the migration's image");
    }

    protected async Task A_target_that_cannot_hold_the_GPUs_is_refused_before_anything_is_paused()
    {
        await using var cluster = new TestCluster(3, Postgres(), gpus: [2, 1, 2]);
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 5);

        var result = await Migrate(cluster, pid);

        Assert.True(result.ExitCode == 1, $"migrate to a node with one GPU did not fail: {result}");
        var failed = Json(result);
        Assert.Equal("b", failed.GetProperty("node").GetString());
        Assert.Equal("dry check", failed.GetProperty("step").GetString());
        Assert.False(failed.GetProperty("source_resumed").GetBoolean());
        Assert.Contains("GPU", failed.GetProperty("reason").GetString());
        var source = cluster.Clients["a"].State(pid);
        Assert.True(source.Running && source.Counters.ProcessInfo == 0 && source.Counters.Unpause == 0, $"the source was touched: {source}");
        SameContinuation(cluster.Clients["a"], pid, cluster.Clients["a"], twin, "the source after a refused migration");
        output.WriteLine(result.Stderr);
    }

    /// <param name="both">One point in the transfer and one in the target's restore; else one of the two, by the seed.</param>
    protected async Task A_target_killed_during_transfer_or_restore_rolls_back_and_the_source_runs_on(int seed, bool both = true)
    {
        var random = new Random(seed);
        string[] points = [random.Next(3) == 0 ? "target-sealed" : $"target-frame#{random.Next(1, 24)}",
            new[] { "planned", "target-created", "render-restored", $"restore-chunk#{random.Next(1, 24)}" }[random.Next(4)]];
        if (!both) points = [points[random.Next(2)]];
        // A target killed in the transfer is waited for (target-return) before the rollback: 5 s, not the node's 30 s.
        await using var cluster = new TestCluster(3, Postgres(), "gpuckpt.migration.target-return = 5s", processes: true);
        await cluster.StartAll();
        foreach (var point in points)
        {
            await cluster.Restart("b", crashAt: point);
            var (pid, twin) = Spawn(cluster, (ulong)seed);
            // Pids are handed out in order: a restore target b builds would be the next one.
            var probe = cluster.Clients["b"].Spawn(WorkloadRequest.Named("tiny", 1));

            var result = await Migrate(cluster, pid);

            Assert.True(result.ExitCode == 1, $"seed {seed}, point {point}: migrate did not fail: {result}");
            var failed = Json(result);
            Assert.Equal("b", failed.GetProperty("node").GetString());
            Assert.True(failed.GetProperty("source_resumed").GetBoolean(), $"seed {seed}, point {point}: {result}");
            var source = cluster.Clients["a"].State(pid);
            Assert.True(source.Running && source.Counters.Unpause == 1, $"seed {seed}, point {point}: source {source}");
            SameContinuation(cluster.Clients["a"], pid, cluster.Clients["a"], twin, $"seed {seed}, point {point}: the source after the rollback");

            // b comes back and settles with the coordinator: nothing of the failed migration stays there.
            await cluster.Restart("b");
            var incoming = Path.Combine(cluster.StateDir("b"), "migrations", "in");
            Assert.True(await TestCluster.Eventually(() => Empty(incoming), Settle),
                $"seed {seed}, point {point}: b still holds {string.Join(", ", Directory.EnumerateFileSystemEntries(incoming))}");
            Assert.True(await TestCluster.Eventually(() => TestCluster.Gone(cluster.Clients["b"], probe + 1), Settle),
                $"seed {seed}, point {point}: b still has the restore target pid {probe + 1}");
            output.WriteLine($"b killed at {point}: {failed.GetProperty("step").GetString()}: {failed.GetProperty("reason").GetString()}; source resumed once, continues like its twin, b clean");
            cluster.Clients["a"].Kill(pid);
            cluster.Clients["a"].Kill(twin);
            cluster.Clients["b"].Kill(probe);
        }
    }

    /// <summary>
    /// The migration failed before its commit and rolled back: it names node b and the step, the source ran again after
    /// exactly one UNPAUSE and continues like its twin, and b holds nothing of it (no image, no restore target).
    /// </summary>
    private async Task RolledBackOnB(TestCluster cluster, GpuckptProcess.Result result, uint pid, uint twin, uint probe, string step,
        string reasonMentions)
    {
        Assert.True(result.ExitCode == 1, $"migrate did not fail: {result}");
        var failed = Json(result);
        Assert.True(failed.GetProperty("node").GetString() == "b" && failed.GetProperty("step").GetString() == step,
            $"the failure names node {failed.GetProperty("node")} at step {failed.GetProperty("step")}, not b at {step}: {result}");
        Assert.True(failed.GetProperty("reason").GetString()!.Contains(reasonMentions, StringComparison.Ordinal),
            $"the reason does not mention {reasonMentions}: {result}");
        Assert.True(failed.GetProperty("source_resumed").GetBoolean(), $"source not resumed: {result}");
        var source = cluster.Clients["a"].State(pid);
        Assert.True(source.Running && source.Counters.ProcessInfo == 1 && source.Counters.Unpause == 1,
            $"the source was not paused once and unpaused once: {source}");
        SameContinuation(cluster.Clients["a"], pid, cluster.Clients["a"], twin, "the source after the rollback");
        var incoming = Path.Combine(cluster.StateDir("b"), "migrations", "in");
        Assert.True(await TestCluster.Eventually(() => Empty(incoming), Settle),
            $"b still holds {string.Join(", ", Directory.EnumerateFileSystemEntries(incoming))}");
        // Pids are handed out in order: a restore target b built would be the one after the probe.
        Assert.True(TestCluster.Gone(cluster.Clients["b"], probe + 1), $"b still has the restore target pid {probe + 1}");
        output.WriteLine($"{failed.GetProperty("step").GetString()} on b: {failed.GetProperty("reason").GetString()}; " +
                         "source resumed once, continues like its twin, b clean");
    }

    protected async Task A_target_out_of_VRAM_on_restore_rolls_back_and_the_source_runs_on()
    {
        await using var cluster = new TestCluster(3, Postgres());
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 17);
        var probe = cluster.Clients["b"].Spawn(WorkloadRequest.Named("tiny", 1));
        // KFD RESTORE on b cannot allocate the process's VRAM.
        cluster.Clients["b"].InjectFault(new SimFault(0, SimOp.Restore, Errno.ENOMEM));

        var result = await Migrate(cluster, pid);

        await RolledBackOnB(cluster, result, pid, twin, probe, "restore", "ENOMEM");
    }

    protected async Task A_target_whose_disk_fills_rolls_back_and_the_source_runs_on()
    {
        // b's state directory, where it writes its copy of the image, holds 4 MiB: the 8 MiB image cannot fit.
        using var disk = SmallTmpfs.Mount(4 << 20);
        await using var cluster = new TestCluster(3, Postgres(), stateDirs: new Dictionary<string, string> { ["b"] = disk.Path });
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 19);
        var probe = cluster.Clients["b"].Spawn(WorkloadRequest.Named("tiny", 1));

        var result = await Migrate(cluster, pid);

        await RolledBackOnB(cluster, result, pid, twin, probe, "write image", "ENOSPC");
        Assert.False(Json(result).GetProperty("reason").GetString()!.Contains("retry budget", StringComparison.Ordinal),
            $"a full disk was retried as if the frames were lost: {result}");
    }

    protected async Task A_leaving_source_finishes_its_migration_before_it_leaves_and_refuses_new_ones()
    {
        await using var cluster = new TestCluster(3, Postgres());
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 23);
        var (a, b) = (cluster.Clients["a"], cluster.Clients["b"]);
        var probe = b.Spawn(WorkloadRequest.Named("tiny", 1));
        // Every MiB copied out of a BO mapped on a from now on takes 64 s (a 256 KiB chunk 16 s, under chunk-timeout):
        // the migration stays in its transfer until the spec lifts the delay. On b every MiB restored takes 5 s: the
        // restore there (about half a minute for the 8 MiB) outlasts a's checkpoint job by several times what a leave
        // takes, so a node that waited for its jobs only would be gone before the commit.
        foreach (var gpu in a.Topology()) a.SetCopyDelay(gpu.GpuId, 64_000_000);
        foreach (var gpu in b.Topology()) b.SetCopyDelay(gpu.GpuId, 5_000_000);
        var migrating = Migrate(cluster, pid, TimeSpan.FromMinutes(6));
        Assert.True(await TestCluster.Eventually(() => migrating.IsCompleted || a.State(pid).Paused, TimeSpan.FromSeconds(90)),
            "the migration never paused its source");
        Assert.False(migrating.IsCompleted, $"the migration ended before a was told to leave: {(migrating.IsCompleted ? migrating.Result : null)}");

        var left = cluster.Nodes["a"].Leave(TimeSpan.FromMinutes(5));
        List<(string Kind, string Detail)>? jobs = null;
        var leaving = false;
        Assert.True(await TestCluster.Eventually(async () =>
        {
            var status = await cluster.Cli("cluster", "status", "--node", cluster.Address("c"), "--json");
            if (status.ExitCode != 0) return false;
            var member = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray()
                .Single(m => m.GetProperty("name").GetString() == "a");
            leaving = member.GetProperty("leaving").ValueKind == JsonValueKind.True;
            jobs = [.. member.GetProperty("jobs").EnumerateArray().Select(j => (j.GetProperty("kind").GetString()!, j.GetProperty("detail").GetString()!))];
            return leaving;
        }, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1)), $"a never reported itself leaving; its jobs: {string.Join("; ", jobs ?? [])}");
        Assert.Contains(jobs!, j => j.Kind == "migration" && j.Detail == "out of this node");

        // Nothing new starts on a leaving node, out of it or into it, and nothing is paused for the attempt.
        var fromA = await cluster.Cli("migrate", "--pid", $"{twin}", "--from", "a", "--to", "c", "--node", cluster.Address("c"), "--json");
        var onC = cluster.Clients["c"].Spawn(WorkloadRequest.Named("tiny", 3));
        var toA = await cluster.Cli("migrate", "--pid", $"{onC}", "--from", "c", "--to", "a", "--node", cluster.Address("c"), "--json");
        foreach (var (refused, what) in new[] { (fromA, "out of a"), (toA, "into a") })
        {
            Assert.True(refused.ExitCode == 1, $"a migration {what} was not refused while a was leaving: {refused}");
            var json = Json(refused);
            Assert.True(json.GetProperty("node").GetString() == "a" && json.GetProperty("step").GetString() == "dry check"
                        && json.GetProperty("reason").GetString()!.Contains("node a is leaving", StringComparison.Ordinal)
                        && !json.GetProperty("source_resumed").GetBoolean(), $"the refusal {what} does not name a as leaving: {refused}");
            Assert.Contains("node a is leaving", refused.Stderr);
        }
        Assert.Equal(0, a.State(twin).Counters.ProcessInfo);
        Assert.Equal(0, cluster.Clients["c"].State(onC).Counters.ProcessInfo);
        Assert.False(migrating.IsCompleted, $"the migration ended while the copies were held: {(migrating.IsCompleted ? migrating.Result : null)}");
        Assert.False(cluster.Nodes["a"].HasExited, $"a left while its migration was still in transfer: {cluster.Nodes["a"].Output}");

        foreach (var gpu in a.Topology()) a.SetCopyDelay(gpu.GpuId, 0);
        // The restore target exists on b once the image is sealed there: a's checkpoint job has ended, the restore runs.
        Assert.True(await TestCluster.Eventually(() => migrating.IsCompleted || !TestCluster.Gone(b, probe + 1), TimeSpan.FromMinutes(3)),
            "the restore on b never started");
        Assert.False(migrating.IsCompleted, $"the migration ended before its restore on b: {(migrating.IsCompleted ? migrating.Result : null)}");
        var result = await migrating;

        // The coordinator runs on a: a migration that completes is one a stayed for.
        Assert.True(result.ExitCode == 0, $"migrate failed while a was leaving: {result}\n--- node a:\n{cluster.Nodes["a"].Output}");
        var exit = await left;
        Assert.True(exit.ExitCode == 0, $"a exited {exit.ExitCode} after its migration: {exit}");
        Assert.True(TestCluster.Gone(a, pid), $"pid {pid} still exists on a after it left");
        var target = Json(result).GetProperty("target_pid").GetUInt32();
        Assert.Equal(probe + 1, target);
        Assert.Equal(1, b.State(target).Counters.Resume);
        SameContinuation(b, target, a, twin, "the process migrated off the leaving node");
        output.WriteLine($"a left after its migration completed; refused while leaving: {fromA.Stderr.Trim()} / {toA.Stderr.Trim()}");
    }

    protected async Task A_restarted_target_still_lists_the_process_that_arrived()
    {
        await using var cluster = new TestCluster(3, Postgres(), processes: true);
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, 29);
        var result = await Migrate(cluster, pid);
        Assert.True(result.ExitCode == 0, $"migrate failed: {result}");
        var target = Json(result).GetProperty("target_pid").GetUInt32();
        bool Listed(List<(string Kind, string Detail)>? jobs) =>
            jobs is not null && jobs.Any(j => j.Kind == "process" && j.Detail == $"pid {target}, migrated from a");

        await cluster.Restart("b");

        var after = await Jobs(cluster, "c", "b");
        Assert.True(Listed(after), $"b, restarted, does not list pid {target} that arrived from a; its jobs: {string.Join("; ", after ?? [])}");
        SameContinuation(cluster.Clients["b"], target, cluster.Clients["a"], twin, "the arrived process after b restarted");

        // A process that no longer exists on b's driver is no longer listed.
        cluster.Clients["b"].Kill(target);
        var gone = await Jobs(cluster, "c", "b");
        Assert.True(gone is not null && !Listed(gone), $"b still lists pid {target} after it ended; its jobs: {string.Join("; ", gone ?? [])}");
    }

    /// <param name="count">How many of the seeded points the source's engine is killed at, one after the other.</param>
    protected async Task A_source_engine_killed_and_restarted_ends_with_exactly_one_copy_running(int seed, int count = 2)
    {
        var random = new Random(seed);
        string[] all = ["migration-started", "paused", $"chunk#{random.Next(1, 24)}", "migration-transferred", "migration-held",
            "migration-committed", "migration-target-resumed"];
        var points = all.OrderBy(_ => random.Next()).Take(count).ToList();
        await using var cluster = new TestCluster(3, Postgres(), processes: true);
        await cluster.StartAll();
        foreach (var point in points)
        {
            await cluster.Restart("a", crashAt: point);
            var (pid, twin) = Spawn(cluster, (ulong)seed);
            var probe = cluster.Clients["b"].Spawn(WorkloadRequest.Named("tiny", 1));

            var result = await Migrate(cluster, pid);
            var killed = await cluster.Process("a").Exited(TimeSpan.FromSeconds(60));
            Assert.True(killed.Killed, $"seed {seed}, point {point}: a's engine was not killed: {killed}; migrate: {result}");
            await cluster.Restart("a");

            var outgoing = Path.Combine(cluster.StateDir("a"), "migrations", "out");
            Assert.True(await TestCluster.Eventually(() => Empty(outgoing), Settle),
                $"seed {seed}, point {point}: the migration did not end after a restarted: {result}\n{cluster.Nodes["a"].Output}");
            var incoming = Path.Combine(cluster.StateDir("b"), "migrations", "in");
            Assert.True(await TestCluster.Eventually(() => Empty(incoming), Settle),
                $"seed {seed}, point {point}: b still holds the migration's files");
            var target = probe + 1;
            var onA = !TestCluster.Gone(cluster.Clients["a"], pid) && cluster.Clients["a"].State(pid).Running;
            var onB = await TestCluster.Eventually(() => !TestCluster.Gone(cluster.Clients["b"], target) && cluster.Clients["b"].State(target).Running, TimeSpan.FromSeconds(2));
            Assert.True(onA ^ onB, $"seed {seed}, point {point}: running on a: {onA}, on b: {onB} (exactly one copy must run)");
            if (onA)
            {
                // Paused (PROCESS_INFO) or not yet, it runs; a pause was undone by exactly one UNPAUSE.
                var counters = cluster.Clients["a"].State(pid).Counters;
                Assert.True(counters.Unpause == (counters.ProcessInfo > 0 ? 1 : 0), $"seed {seed}, point {point}: {counters}");
                Assert.True(TestCluster.Gone(cluster.Clients["b"], target), $"seed {seed}, point {point}: a rolled back but b kept pid {target}");
                SameContinuation(cluster.Clients["a"], pid, cluster.Clients["a"], twin, $"seed {seed}, point {point}: the source after the rollback");
                cluster.Clients["a"].Kill(pid);
            }
            else
            {
                Assert.True(TestCluster.Gone(cluster.Clients["a"], pid), $"seed {seed}, point {point}: b runs the copy but a kept pid {pid}");
                SameContinuation(cluster.Clients["b"], target, cluster.Clients["a"], twin, $"seed {seed}, point {point}: the copy on b");
                cluster.Clients["b"].Kill(target);
            }
            output.WriteLine($"a killed at {point}: {(onA ? "rolled back, the source runs on a" : "completed, the copy runs on b")}");
            cluster.Clients["a"].Kill(twin);
            cluster.Clients["b"].Kill(probe);
        }
    }

    protected async Task A_target_engine_restarted_mid_transfer_takes_up_its_copy_and_the_migration_completes(int seed)
    {
        // Past the first window of frames: the sender has had some of them confirmed when b's engine dies.
        var point = $"target-frame#{new Random(seed).Next(18, 28)}";
        await using var cluster = new TestCluster(3, Postgres(), processes: true);
        await cluster.StartAll();
        await cluster.Restart("b", crashAt: point);
        var (pid, twin) = Spawn(cluster, (ulong)seed);

        var migrating = Migrate(cluster, pid);
        var killed = await cluster.Process("b").Exited(TimeSpan.FromSeconds(90));
        Assert.True(killed.Killed, $"seed {seed}: b's engine was not killed at {point}: {killed}");
        await cluster.Restart("b");
        var result = await migrating;

        Assert.True(result.ExitCode == 0, $"seed {seed}: migrate failed although b's engine came back: {result}\n--- node a:\n{cluster.Nodes["a"].Output}");
        var json = Json(result);
        var (image, resent, kept) = (json.GetProperty("image_bytes").GetInt64(), json.GetProperty("bytes_resent").GetInt64(), json.GetProperty("bytes_kept").GetInt64());
        output.WriteLine($"seed {seed}: b killed at {point} and restarted; {kept} bytes kept by b, {resent} of {image} image bytes resent: {result.Stdout}");
        Assert.Equal(1, json.GetProperty("target_restarts").GetInt32());
        Assert.True(kept > 0, $"seed {seed}: the restarted target kept nothing of what it had confirmed: {result.Stdout}");
        Assert.True(resent < image, $"seed {seed}: {resent} bytes resent, the image holds {image}: the transfer started over");
        var target = json.GetProperty("target_pid").GetUInt32();
        Assert.True(TestCluster.Gone(cluster.Clients["a"], pid), $"seed {seed}: pid {pid} still exists on a after the migration");
        Assert.Equal(1, cluster.Clients["b"].State(target).Counters.Resume);
        SameContinuation(cluster.Clients["b"], target, cluster.Clients["a"], twin, $"seed {seed}: the copy taken up after b restarted");
        var incoming = Path.Combine(cluster.StateDir("b"), "migrations", "in");
        Assert.True(await TestCluster.Eventually(() => Empty(incoming), Settle), $"seed {seed}: b still holds the migration's files");
    }

    protected async Task A_stream_tampered_with_in_flight_fails_the_migration_and_the_source_runs_on(int seed)
    {
        await using var cluster = new TestCluster(3, Postgres(), "akka.remote.use-passive-connections = off", proxied: "b");
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, (ulong)seed);
        var probe = cluster.Clients["b"].Spawn(WorkloadRequest.Named("tiny", 1));
        // One byte of every data connection to b is inverted past the TLS handshake, inside the first frame's record.
        var data = cluster.DataProxy!;
        data.FlipAt = 16_384 + new Random(seed).Next(64 * 1024);

        var result = await Migrate(cluster, pid);

        Assert.True(data.Flipped >= 1, $"seed {seed}: no byte was flipped (the link carried {data.Forwarded} bytes): {result}");
        await RolledBackOnB(cluster, result, pid, twin, probe, "receive", "changed in flight");
        output.WriteLine($"seed {seed}: byte {data.FlipAt} of each of {data.Flipped} data connections flipped: {Json(result).GetProperty("reason").GetString()}");
    }

    protected async Task A_link_broken_mid_transfer_resends_only_unconfirmed_frames(int seed)
    {
        // Frames cross the proxy in front of b's data port; control messages the one in front of its remoting port (each
        // node sends over its own connection: with passive connections a could answer over the one b opened to a).
        await using var cluster = new TestCluster(3, Postgres(), "akka.remote.use-passive-connections = off", proxied: "b");
        await cluster.StartAll();
        var (pid, twin) = Spawn(cluster, (ulong)seed);
        // The data link breaks once somewhere in the first three quarters of the image's bytes, and the association with
        // it: both links drop at the same moment.
        var data = cluster.DataProxy!;
        data.BreakAfter = data.Forwarded + (long)(Size * (0.25 + new Random(seed).NextDouble() / 2));
        data.OnBreak = cluster.Proxy!.BreakNow;

        var result = await Migrate(cluster, pid);

        Assert.True(result.ExitCode == 0, $"seed {seed}: migrate failed after the link broke: {result}");
        Assert.True(data.Broken, $"seed {seed}: the data link never broke (only {data.Forwarded} bytes went through)");
        Assert.True(cluster.Proxy.Broken, $"seed {seed}: the association never broke");
        var json = Json(result);
        var image = json.GetProperty("image_bytes").GetInt64();
        var resent = json.GetProperty("bytes_resent").GetInt64();
        Assert.True(json.GetProperty("link_breaks").GetInt32() >= 1, $"seed {seed}: the sender saw no link break: {result.Stdout}");
        output.WriteLine($"seed {seed}: link broken after {data.BreakAfter} frame bytes; {resent} of {image} image bytes resent, " +
                         $"{json.GetProperty("link_breaks").GetInt32()} breaks seen: {result.Stdout}");
        Assert.True(resent < image, $"seed {seed}: {resent} bytes resent, the image holds {image}");
        SameContinuation(cluster.Clients["b"], json.GetProperty("target_pid").GetUInt32(), cluster.Clients["a"], twin, $"seed {seed}: the copy after the broken link");
    }
}

/// <summary>The SQLite migrations: a lane of their own beside <see cref="NodesCollection"/> (one cluster in each at a time).</summary>
public sealed class SqliteMigrationSpecs(ITestOutputHelper output) : MigrationSpecs(output)
{
    protected override string? Postgres() => null;

    [Fact]
    public Task Migrates_train_from_a_to_b_sqlite() => A_process_moves_to_b_and_continues_there_like_an_uninterrupted_run();

    [Fact]
    public Task A_target_too_small_is_refused_before_the_pause_sqlite() => A_target_that_cannot_hold_the_GPUs_is_refused_before_anything_is_paused();

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_killed_target_rolls_back_sqlite() => A_target_killed_during_transfer_or_restore_rolls_back_and_the_source_runs_on(TestSeed.Fresh());

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_restarted_target_engine_continues_the_transfer_sqlite() => A_target_engine_restarted_mid_transfer_takes_up_its_copy_and_the_migration_completes(TestSeed.Fresh());

    [Fact]
    public Task A_target_out_of_VRAM_rolls_back_sqlite() => A_target_out_of_VRAM_on_restore_rolls_back_and_the_source_runs_on();

    [TmpfsFact]
    public Task A_target_with_a_full_disk_rolls_back_sqlite() => A_target_whose_disk_fills_rolls_back_and_the_source_runs_on();

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_leaving_source_finishes_its_migration_first_sqlite() => A_leaving_source_finishes_its_migration_before_it_leaves_and_refuses_new_ones();

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_restarted_target_lists_the_arrived_process_sqlite() => A_restarted_target_still_lists_the_process_that_arrived();

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_killed_source_engine_ends_with_one_copy_sqlite() => A_source_engine_killed_and_restarted_ends_with_exactly_one_copy_running(TestSeed.Fresh());

    [Fact]
    public Task A_broken_link_resumes_the_transfer_sqlite() => A_link_broken_mid_transfer_resends_only_unconfirmed_frames(TestSeed.Fresh());

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_tampered_stream_fails_the_migration_sqlite() => A_stream_tampered_with_in_flight_fails_the_migration_and_the_source_runs_on(TestSeed.Fresh());
}

/// <summary>
/// The migrations whose nodes are killed and resume from the shared PostgreSQL journal; the others do not read their
/// journal back, and run on SQLite only. Each kills its node at one seeded point (the SQLite ones at two): what differs
/// here is the journal the node resumes from, and the seed moves the point from run to run.
/// </summary>
[Collection(nameof(NodesCollection))]
public sealed class PostgresMigrationSpecs(PostgresJournalSpecs.Server server, ITestOutputHelper output)
    : MigrationSpecs(output), IClassFixture<PostgresJournalSpecs.Server>
{
    protected override string? Postgres() => server.Cluster.ConnectionString;

    [PostgresFact]
    [Trait("Tier", "Full")]
    public Task A_killed_target_rolls_back_postgres() => A_target_killed_during_transfer_or_restore_rolls_back_and_the_source_runs_on(TestSeed.Fresh(), both: false);

    [PostgresFact]
    [Trait("Tier", "Full")]
    public Task A_restarted_target_engine_continues_the_transfer_postgres() => A_target_engine_restarted_mid_transfer_takes_up_its_copy_and_the_migration_completes(TestSeed.Fresh());

    [PostgresFact]
    [Trait("Tier", "Full")]
    public Task A_killed_source_engine_ends_with_one_copy_postgres() => A_source_engine_killed_and_restarted_ends_with_exactly_one_copy_running(TestSeed.Fresh(), count: 1);
}
