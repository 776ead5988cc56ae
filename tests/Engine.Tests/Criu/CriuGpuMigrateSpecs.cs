using System.Globalization;
using System.Text.Json;
using Gpuckpt.Actors;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Transfer;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>
/// <c>gpuckpt migrate --criu</c> of GPU processes between `gpuckpt node --emulated-kernel` processes (TLS on, real
/// CRIU): each of nodes a and b runs a stand-in holding /dev/kfd and the render nodes of a simulated train process
/// and counting on its CPU, beside an untouched twin in its simulator. A target whose criu restore fails after the dump
/// (CRIU_FAULT) brings a's back on a with its GPU state; b's moves to a under its pid, bound to a's simulator. Each time
/// the counter goes on from the dumped value, the restoring kernel saw one RESTORE issued by the restored task and one
/// RESUME, and after more steps the GPU digest equals the twin's.
/// </summary>
[Trait("Tier", "Full")]
public sealed class CriuGpuMigrateSpecs(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private const ulong Size = 8 << 20, Steps = 3;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-gpu-migrate-spec-");
    private string _config = "";

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task A_gpu_stand_in_moves_to_another_node_with_its_gpu_state_and_a_failed_restore_there_brings_it_back_on_the_source()
    {
        var seed = (ulong)(uint)TestSeed.Fresh();
        var (counterA, counterB) = (Dir("counter-a"), Dir("counter-b"));
        using var host = TaskHost.Start(Timeout);
        var nodes = await StartNodes(host, new Dictionary<string, string[]>
        {
            ["a"] = ["--stand-in", $"train:{seed}:{Size}", "--stand-in-counter", counterA],
            ["b"] = ["--stand-in", $"train:{seed + 1}:{Size}", "--stand-in-counter", counterB],
            ["c"] = [],
        // criu restore fails on c after the dump (FI_RESTORE_ROOT_ONLY: its root task is killed, the restore reports failure).
        }, new Dictionary<string, string[]> { ["c"] = ["CRIU_FAULT=2"] });
        try
        {
            await WaitUp(nodes);
            var (pidA, simPidA, simA, twinA) = StandIn(nodes[0], seed);
            var (pidB, simPidB, simB, twinB) = StandIn(nodes[1], seed + 1);
            using var disposeA = simA;
            using var disposeB = simB;
            await Until(() => Counts(counterA).Count >= 3 && Counts(counterB).Count >= 3, "three counts of each stand-in", nodes);

            // The target's restore fails after the dump: a restores its own dump under a kernel of its own, c keeps nothing.
            var original = ProcessIdentity.Of(pidA)!;
            var failed = await Migrate(nodes, pidA, "a", "c");
            output.WriteLine(failed.Stderr.Trim());
            Assert.True(failed.ExitCode == 1 && failed.Stderr.Trim().Split('\n').Length == 1, $"seed {seed}: {failed}\n{Tails(nodes)}");
            Assert.Contains("failed on node c at restore", failed.Stderr);
            Assert.Contains($"pid {pidA} runs again on a, restored from its dump there; c kept nothing", failed.Stderr);
            RunsAgain(pidA, original);
            var rolledBack = AssertRestoredOnce(nodes[0], pidA, seed);
            Assert.DoesNotContain(JsonLines(nodes[2]), l => l.TryGetProperty("kernel", out _));
            AssertNothingLeft(nodes, seed);
            await AssertCountsOn(counterA, nodes, seed);
            AssertSameGpu(simA, rolledBack, simA, twinA, seed);

            // Restored under a's kernel it carries the kernel's filter, which CRIU cannot suspend: refused, untouched.
            var again = ProcessIdentity.Of(pidA)!;
            var refused = await Migrate(nodes, pidA, "a", "b");
            output.WriteLine(refused.Stderr.Trim());
            Assert.True(refused.ExitCode == 1 && refused.Stderr.Trim().Split('\n').Length == 1, $"seed {seed}: {refused}\n{Tails(nodes)}");
            Assert.Contains($"pid {pidA} was restored under this node's emulated kernel", refused.Stderr);
            Assert.Contains($"pid {pidA} was not touched", refused.Stderr);
            Assert.True(again.SameAs(ProcessIdentity.Of(pidA)), $"seed {seed}: pid {pidA} is not the process it was after a refused migration");
            await AssertCountsOn(counterA, nodes, seed);

            // The move: b's stand-in dumped under b's kernel, restored on a under a kernel of a's, bound to a's simulator.
            original = ProcessIdentity.Of(pidB)!;
            var moved = await Migrate(nodes, pidB, "b", "a", "--json");
            Assert.True(moved.ExitCode == 0, $"seed {seed}: {moved}\n{Tails(nodes)}");
            var report = JsonDocument.Parse(moved.Stdout).RootElement;
            Assert.Equal(((int)pidB, "b", "a"), (report.GetProperty("target_pid").GetInt32(), report.GetProperty("from").GetString(), report.GetProperty("to").GetString()));
            RunsAgain(pidB, original);
            var onA = AssertRestoredOnce(nodes[0], pidB, seed);
            AssertNothingLeft(nodes, seed);
            await AssertCountsOn(counterB, nodes, seed);
            AssertSameGpu(simA, onA, simB, twinB, seed);
            output.WriteLine($"seed {seed}: stand-in {pidB} moved b -> a with its GPU state, {report.GetProperty("image_bytes").GetInt64()} bytes, " +
                             $"{report.GetProperty("seconds").GetDouble():F2} s; counter at {Counts(counterB)[^1]}");
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"seed {seed}: {e.Message}\n{Tails(nodes)}", e);
        }
        finally
        {
            Stop(host, nodes);
        }
    }

    /// <summary>The node's stand-in and its simulated process, stepped <see cref="Steps"/> times beside an untouched twin spawned there.</summary>
    private static (uint Pid, uint SimPid, SimulatorClient Sim, uint Twin) StandIn(Node node, ulong seed)
    {
        var line = JsonLines(node).Single(l => l.TryGetProperty("stand_in", out _));
        var simPid = line.GetProperty("sim_pid").GetUInt32();
        var sim = SimulatorClient.Connect(line.GetProperty("simulator").GetString()!);
        var twin = sim.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: Size));
        sim.Run(simPid, Steps);
        sim.Run(twin, Steps);
        return (line.GetProperty("stand_in").GetUInt32(), simPid, sim, twin);
    }

    private sealed record Node(string Name, int Port, int Pid, string Output, string StateDir);

    /// <summary>The pid runs again (not a zombie), a new incarnation of it: CRIU restored it.</summary>
    private static ProcessIdentity RunsAgain(uint pid, ProcessIdentity before)
    {
        var now = ProcessIdentity.Of(pid);
        Assert.True(now is not null, $"pid {pid} does not run after the migration (state {ProcessIdentity.State(pid) ?? "gone"})");
        Assert.NotEqual(before.StartTicks, now.StartTicks);
        return now;
    }

    /// <summary>
    /// The node's kernel printed the restore of <paramref name="pid"/>: one RESTORE, issued by the restored task on its
    /// own file and served, and one RESUME of it; the simulated process it rebuilt.
    /// </summary>
    private static uint AssertRestoredOnce(Node node, uint pid, ulong seed)
    {
        var restored = JsonLines(node).Where(l => l.TryGetProperty("kernel", out _) && l.GetProperty("pid").GetUInt32() == pid).ToList();
        var line = restored.Count > 0 ? restored[^1] : throw new Xunit.Sdk.XunitException($"seed {seed}: node {node.Name} printed no restore by its kernel");
        Assert.Equal(pid, line.GetProperty("pid").GetUInt32());
        var restore = Assert.Single(line.GetProperty("restores").EnumerateArray());
        Assert.Equal((pid, 0), (restore.GetProperty("process").GetUInt32(), restore.GetProperty("errno").GetInt32()));
        Assert.True(Directory.Exists($"/proc/{pid}/task/{restore.GetProperty("tid").GetInt32()}"), $"seed {seed}: RESTORE came from no thread of pid {pid}");
        var resume = Assert.Single(line.GetProperty("resumes").EnumerateArray());
        Assert.Equal((pid, 0), (resume.GetProperty("pid").GetUInt32(), resume.GetProperty("errno").GetInt32()));
        return restore.GetProperty("sim_pid").GetUInt32();
    }

    /// <summary>After <see cref="Steps"/> more steps each, the restored simulated process and the twin hold equal GPU state.</summary>
    private static void AssertSameGpu(SimulatorClient sim, uint restored, SimulatorClient twinSim, uint twin, ulong seed)
    {
        sim.Run(restored, Steps);
        twinSim.Run(twin, Steps);
        var (mine, theirs) = (sim.State(restored), twinSim.State(twin));
        Assert.True(mine.Digest == theirs.Digest && mine.Step == theirs.Step,
            $"seed {seed}: restored at step {mine.Step} digest {mine.Digest}, twin at step {theirs.Step} digest {theirs.Digest}");
    }

    /// <summary>The counter counts on after the restore, and every value came once, each one more than the last: one copy counted at a time, from the dumped value.</summary>
    private async Task AssertCountsOn(string counter, List<Node> nodes, ulong seed)
    {
        var at = Counts(counter).Count;
        await Until(() => Counts(counter).Count >= at + 2, "two counts after the restore", nodes);
        var counts = Counts(counter);
        Assert.True(counts.Zip(counts.Skip(1)).All(p => p.Item2 == p.Item1 + 1), $"seed {seed}: the counter went {string.Join(",", counts)}");
    }

    /// <summary>No node keeps a dump or a received image once a migration has ended.</summary>
    private static void AssertNothingLeft(List<Node> nodes, ulong seed)
    {
        foreach (var node in nodes)
            foreach (var side in new[] { "criu-out", "criu-in" })
            {
                var dir = Path.Combine(node.StateDir, "migrations", side);
                var kept = Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir) : [];
                Assert.True(kept.Length == 0, $"seed {seed}: node {node.Name} kept {string.Join(", ", kept)}");
            }
    }

    /// <summary>The values the counter appended so far (a line being written is not one yet).</summary>
    private static List<long> Counts(string file)
    {
        if (!File.Exists(file)) return [];
        var text = File.ReadAllText(file);
        return [.. text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l, CultureInfo.InvariantCulture))];
    }

    private static List<JsonElement> JsonLines(Node node) =>
        [.. File.ReadAllLines(node.Output).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement)];

    /// <summary>
    /// Starts one `gpuckpt node --emulated-kernel` per name under the taskhost, each with its own simulator and state
    /// directory. Every node binds port 0 and reports the port it bound: the first forms the cluster, the others name it
    /// as their seed once it is up.
    /// </summary>
    private async Task<List<Node>> StartNodes(TaskHost host, IReadOnlyDictionary<string, string[]> nodes, IReadOnlyDictionary<string, string[]> environment)
    {
        var clusterDir = Dir("cluster");
        Gpuckpt.Engine.Trust.ClusterAuthority.Create(clusterDir);
        _config = Dir("node.conf");
        File.WriteAllText(_config, File.ReadAllText(Path.Combine(EngineConfig.Directory(), "node.conf")) + $"""

            akka.cluster.retry-unsuccessful-join-after = 2s
            akka.remote.dot-netty.tcp.connection-timeout = 10s
            gpuckpt.migration.request-timeout = 20s
            gpuckpt.tls.dir = "{clusterDir}"
            """);
        var firstConfig = Dir("node-first.conf");
        File.WriteAllText(firstConfig, File.ReadAllText(_config) + "\nakka.cluster.seed-nodes = []\n");
        var dll = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        Node Start(string name, string[] args, string config, string seeds)
        {
            var state = Directory.CreateDirectory(Dir($"state-{name}")).FullName;
            var log = Dir($"node-{name}.out");
            var pid = host.Spawn(log, ["env", $"GPUCKPT_NODE_NAME={name}", "GPUCKPT_NODE_PORT=0", .. seeds.Length == 0 ? Array.Empty<string>() : [$"GPUCKPT_SEED_NODES={seeds}"],
                .. environment.GetValueOrDefault(name, []), "dotnet", dll, "node", "--config", config, "--state-dir", state, "--json", "--emulated-kernel", .. args]);
            return new Node(name, 0, pid, log, state);
        }
        var (firstName, firstArgs) = nodes.First();
        List<Node> started = [Start(firstName, firstArgs, firstConfig, "")];
        try
        {
            var first = started[0] = started[0] with { Port = await BoundPort(started[0], started) };
            started.AddRange(nodes.Skip(1).Select(n => Start(n.Key, n.Value, _config, $"127.0.0.1:{first.Port}")));
            for (var i = 1; i < started.Count; i++) started[i] = started[i] with { Port = await BoundPort(started[i], started) };
            return started;
        }
        catch
        {
            Stop(host, started);
            throw;
        }
    }

    /// <summary>The port a node reports in its "up" line, once it printed it.</summary>
    private static async Task<int> BoundPort(Node node, List<Node> nodes)
    {
        string? up = null;
        await Until(() => (up = UpLine(node)) is not null, $"node {node.Name} up", nodes);
        var address = JsonDocument.Parse(up!).RootElement.GetProperty("address").GetString()!;
        return int.Parse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string? UpLine(Node node) =>
        File.Exists(node.Output)
            ? File.ReadLines(node.Output).FirstOrDefault(l => l.StartsWith('{') && l.Contains("\"state\":\"up\"", StringComparison.Ordinal))
            : null;

    /// <summary>Every node said it is up, and node a sees all of them up (it picks the target among its members).</summary>
    private async Task WaitUp(List<Node> nodes)
    {
        foreach (var node in nodes)
            await Until(() => UpLine(node) is not null, $"node {node.Name} up", nodes);
        await Until(async () =>
        {
            var status = await GpuckptProcess.RunAsync(["cluster", "status", "--node", $"127.0.0.1:{nodes[0].Port}", "--config", _config, "--json"], timeout: Timeout);
            if (status.ExitCode != 0) return false;
            var members = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray().ToList();
            return members.Count == nodes.Count && members.All(m => m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean());
        }, "every node up as node a sees them", nodes);
    }

    private static Task Until(Func<bool> condition, string what, List<Node> nodes) => Until(() => Task.FromResult(condition()), what, nodes);

    private static async Task Until(Func<Task<bool>> condition, string what, List<Node> nodes)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (!await condition())
        {
            try
            {
                await tick.WaitForNextTickAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no {what} within {Timeout}\n{Tails(nodes)}");
            }
        }
    }

    private Task<GpuckptProcess.Result> Migrate(List<Node> nodes, uint pid, string from, string to, params string[] more) =>
        GpuckptProcess.RunAsync(["migrate", "--criu", "--pid", $"{pid}", "--from", from, "--to", to, "--node", $"127.0.0.1:{nodes[0].Port}",
            "--config", _config, .. more], timeout: Timeout);

    private static string Tails(List<Node> nodes) =>
        string.Join("\n", nodes.Select(n => $"--- node {n.Name}:\n" +
            (File.Exists(n.Output) ? string.Join("\n", File.ReadLines(n.Output).TakeLast(25)) : "(no output)")));

    /// <summary>SIGTERM: each node leaves and ends its kernels (the processes under them) and its simulator; the taskhost reaps it.</summary>
    private void Stop(TaskHost host, List<Node> nodes)
    {
        foreach (var node in nodes) Libc.Kill(node.Pid, 15);
        foreach (var node in nodes)
        {
            // A node that does not end is killed, and said so: the spec fails on what went wrong before, not here.
            if (!SpinWait.SpinUntil(() => ProcessIdentity.State((uint)node.Pid) is null or "Z", Timeout))
            {
                output.WriteLine($"node {node.Name} did not end within {Timeout} of SIGTERM: killed");
                Libc.Kill(node.Pid, 9);
            }
            host.Wait(node.Pid);
        }
    }
}
