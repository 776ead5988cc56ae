using System.Text.Json;
using Gpuckpt.Actors;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Transfer;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Engine.Tests.Criu;

/// <summary>
/// <c>gpuckpt migrate --criu</c> between `gpuckpt node` processes on loopback (TLS on), with real CRIU: a CPU counter
/// (gpuapp, stepped in lockstep with an untouched twin) moves from node a to node b under its pid and goes on from the
/// dumped value; a target whose <c>criu restore</c> fails after the dump (CRIU_FAULT) leaves it running on a again;
/// a target without CRIU and a pid that is no process are refused in one line with the process untouched. The nodes
/// and the counter are children of a taskhost, which stands in for init: it reaps a dumped process and adopts a
/// restored one.
/// </summary>
[Trait("Tier", "Full")]
public sealed class CriuMigrateSpecs(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-migrate-spec-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task A_whole_process_moves_to_another_node_under_its_pid_and_a_failed_restore_there_brings_it_back_on_the_source()
    {
        var seed = $"{(ulong)TestSeed.Fresh() * 2654435761UL}";
        using var host = TaskHost.Start(Timeout);
        var nodes = await StartNodes(host, new Dictionary<string, string[]>
        {
            ["a"] = [],
            ["b"] = [],
            // criu restore fails there after the dump (FI_RESTORE_ROOT_ONLY: its root task is killed, the restore reports failure).
            ["c"] = ["CRIU_FAULT=2"],
            ["d"] = ["GPUCKPT_CRIU=/nonexistent/criu"],
        });
        try
        {
            await WaitUp(nodes);
            var (app, pid, twin, twinPid) = GpuAppOutput.StartPlainWithTwin(host, _dir.FullName, seed, Timeout, steps: 3);
            var original = ProcessIdentity.Of((uint)pid)!;

            // A pid that is no process, and a target without CRIU: one line each, nothing dumped.
            var none = NoProcess();
            var bad = await Migrate(nodes, none, "b");
            AssertOneLine(bad, $"no process {none} on node a", seed);
            var noCriu = await Migrate(nodes, (uint)pid, "d");
            AssertOneLine(noCriu, "node d cannot restore a whole process: CRIU is not installed", seed);
            Assert.Contains($"pid {pid} was not touched", noCriu.Stderr);
            Assert.True(original.SameAs(ProcessIdentity.Of((uint)pid)), $"seed {seed}: pid {pid} is not the process it was after a refused migration");
            Assert.Equal(twin.Step(twinPid), app.Step(pid));

            // The target's restore fails after the dump: the source restores its own dump, the process runs on a again.
            var (failed, dumpedExit) = await MigrateReaping(host, nodes, pid, "c");
            Assert.Equal(128 + 9, dumpedExit);
            AssertOneLine(failed, $"pid {pid} runs again on a, restored from its dump there; c kept nothing", seed);
            foreach (var refused in new[] { bad, noCriu, failed }) output.WriteLine(refused.Stderr.Trim());
            Assert.Contains("failed on node c at restore", failed.Stderr);
            // CRIU's log of the failed restore is kept on c, where the line points.
            var restoreLog = Path.Combine(nodes[2].StateDir, "migrations", "criu-logs");
            Assert.Contains(restoreLog + "/", failed.Stderr);
            Assert.Contains("Restoring FAILED", File.ReadAllText(Assert.Single(Directory.GetFiles(restoreLog))));
            AssertRunsAgain(pid, host, original);
            for (var i = 0; i < 2; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));
            AssertNothingLeft(nodes, seed);
            var afterRollBack = ProcessIdentity.Of((uint)pid)!;

            // The migration itself: dumped on a (that copy ends), restored on b under the same pid, counting on from the dump.
            var (moved, movedExit) = await MigrateReaping(host, nodes, pid, "b", "--json");
            Assert.Equal(128 + 9, movedExit);
            Assert.True(moved.ExitCode == 0, $"seed {seed}: {moved}\n{Tails(nodes)}");
            var report = JsonDocument.Parse(moved.Stdout).RootElement;
            Assert.Equal((pid, "a", "b"), (report.GetProperty("target_pid").GetInt32(), report.GetProperty("from").GetString(), report.GetProperty("to").GetString()));
            Assert.True(report.GetProperty("image_bytes").GetInt64() > 0);
            AssertRunsAgain(pid, host, afterRollBack);
            for (var i = 0; i < 4; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));
            AssertNothingLeft(nodes, seed);
            // Steps 1-9 once each: one copy counted at a time, and each went on from the value dumped.
            Assert.Equal(Enumerable.Range(1, 10).Select(n => $"step={n}"), app.Lines.Skip(1).Select(l => l.Split(' ')[0]));
            Assert.Equal(twin.Lines.Skip(1), app.Lines.Skip(1));
            output.WriteLine($"seed {seed}: pid {pid} moved a -> b, {report.GetProperty("image_bytes").GetInt64()} bytes, " +
                             $"down {report.GetProperty("pause_seconds").GetDouble():F2} s, {report.GetProperty("seconds").GetDouble():F2} s in all");
        }
        finally
        {
            Stop(host, nodes);
        }
    }

    [Fact]
    public async Task A_source_node_killed_in_the_middle_of_a_migration_continues_it_when_it_starts_again()
    {
        var seed = $"{(ulong)TestSeed.Fresh() * 2654435761UL}";
        using var host = TaskHost.Start(Timeout);
        var nodes = await StartNodes(host, new Dictionary<string, string[]>
        {
            // a dies before its dump begins, then (started again) right after its dump verified; b when it hears that a
            // restored the process (hit only as a source).
            ["a"] = ["GPUCKPT_CRASH_AT=criu-migration-started"],
            ["b"] = ["GPUCKPT_CRASH_AT=criu-migration-target-restored"],
            // The majority that stays up while one of a and b is down: the split-brain resolver keeps it.
            ["c"] = [],
        });
        try
        {
            await WaitUp(nodes);
            var (app, pid, twin, twinPid) = GpuAppOutput.StartPlainWithTwin(host, _dir.FullName, seed, Timeout, steps: 3);
            var original = ProcessIdentity.Of((uint)pid)!;

            // a is killed before the dump: started again, it finds the process untouched and drops the migration.
            var untouched = await Migrate(nodes, (uint)pid, "b");
            Assert.True(untouched.ExitCode != 0, $"seed {seed}: the migration's node was killed, yet: {untouched}");
            Assert.Equal(128 + 9, host.Wait(nodes[0].Pid));
            nodes[0] = Restart(host, nodes[0], ["GPUCKPT_CRASH_AT=criu-migration-dumped"]);
            await WaitUp(nodes);
            await Until(() => Task.FromResult(Held(nodes).Count == 0), "the restarted node a dropping the migration it had not begun, and b what it got", nodes);
            Assert.True(original.SameAs(ProcessIdentity.Of((uint)pid)), $"seed {seed}: pid {pid} is not the process it was");
            Assert.Contains($"pid {pid} runs on, untouched", File.ReadAllText(nodes[0].Output));
            Assert.Equal(twin.Step(twinPid), app.Step(pid));
            AssertNothingLeft(nodes, seed);

            // a is killed with the process dumped and not yet anywhere else: started again, a sends the image to b, which restores it.
            var (first, _) = await MigrateReaping(host, nodes, pid, "b");
            Assert.True(first.ExitCode != 0, $"seed {seed}: the migration's node was killed, yet: {first}");
            Assert.Equal(128 + 9, host.Wait(nodes[0].Pid));
            nodes[0] = nodes[0] with { Pid = 0 };
            Assert.False(ProcessIdentity.Taken((uint)pid), $"seed {seed}: pid {pid} runs while its only copy is a's dump");
            nodes[0] = Restart(host, nodes[0], []);
            await Until(() => Task.FromResult(ProcessIdentity.Of((uint)pid) is not null && !Directory.EnumerateFileSystemEntries(
                Path.Combine(nodes[0].StateDir, "migrations", "criu-out")).Any()), "the migration continued by the restarted node a", nodes);
            AssertRunsAgain(pid, host, original);
            // The node logs the migration's end after it has cleared what it sent.
            await Until(() => Task.FromResult(File.ReadAllText(nodes[0].Output).Contains($"pid {pid} runs on node b", StringComparison.Ordinal)),
                "the restarted node a logging where the process runs", nodes);
            for (var i = 0; i < 2; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));
            AssertNothingLeft(nodes, seed);
            var onB = ProcessIdentity.Of((uint)pid)!;

            // b is killed as a says it restored the process; b, started again, learns it from a and drops its dump.
            var (second, _) = await MigrateReaping(host, nodes, pid, "a", "--from", "b");
            Assert.True(second.ExitCode != 0, $"seed {seed}: the migration's node was killed, yet: {second}");
            Assert.Equal(128 + 9, host.Wait(nodes[1].Pid));
            nodes[1] = nodes[1] with { Pid = 0 };
            await Until(() => Task.FromResult(ProcessIdentity.Of((uint)pid) is not null), "pid running again, restored by a", nodes);
            Assert.NotEmpty(Directory.EnumerateFileSystemEntries(Path.Combine(nodes[1].StateDir, "migrations", "criu-out")));
            nodes[1] = Restart(host, nodes[1], []);
            await Until(() => Task.FromResult(!Directory.EnumerateFileSystemEntries(Path.Combine(nodes[1].StateDir, "migrations", "criu-out")).Any()),
                "the restarted node b learning that a restored the process", nodes);
            AssertRunsAgain(pid, host, onB);
            await Until(() => Task.FromResult(File.ReadAllText(nodes[1].Output).Contains($"pid {pid} runs on node a", StringComparison.Ordinal)),
                "the restarted node b logging where the process runs", nodes);
            for (var i = 0; i < 2; i++) Assert.Equal(twin.Step(twinPid), app.Step(pid));
            AssertNothingLeft(nodes, seed);
            // Steps 1-8 once each: one copy counted at a time, each going on from the value dumped.
            Assert.Equal(Enumerable.Range(1, 8).Select(n => $"step={n}"), app.Lines.Skip(1).Select(l => l.Split(' ')[0]));
            Assert.Equal(twin.Lines.Skip(1), app.Lines.Skip(1));
        }
        finally
        {
            Stop(host, nodes);
        }
    }

    private sealed record Node(string Name, int Port, int Pid, string Output, string StateDir, string Seeds);

    private string _config = "";

    /// <summary>
    /// Starts one `gpuckpt node` per name under the taskhost, each with its own embedded simulator, state directory and
    /// extra environment, and waits until each is up. Every node binds port 0 and reports the port it bound: the first
    /// forms the cluster, the others name it as their seed; a restarted node binds its port again with every node as a seed.
    /// </summary>
    private async Task<List<Node>> StartNodes(TaskHost host, IReadOnlyDictionary<string, string[]> nodes)
    {
        var clusterDir = Dir("cluster");
        Gpuckpt.Engine.Trust.ClusterAuthority.Create(clusterDir);
        _config = Dir("node.conf");
        // Downing within seconds of a kill (these specs kill nodes and wait until the others have removed them), yet a
        // node busy starting beside other specs on two cores is not taken for dead; a restarted node asks again after 2 s.
        File.WriteAllText(_config, File.ReadAllText(Path.Combine(EngineConfig.Directory(), "node.conf")) + $"""

            akka.cluster.retry-unsuccessful-join-after = 2s
            akka.cluster.split-brain-resolver.stable-after = 4s
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 6s
            akka.remote.dot-netty.tcp.connection-timeout = 10s
            gpuckpt.migration.request-timeout = 20s
            gpuckpt.tls.dir = "{clusterDir}"
            """);
        var firstConfig = Dir("node-first.conf");
        File.WriteAllText(firstConfig, File.ReadAllText(_config) + "\nakka.cluster.seed-nodes = []\n");
        Node New(string name, string seeds) =>
            new(name, 0, 0, Dir($"node-{name}.out"), Directory.CreateDirectory(Dir($"state-{name}")).FullName, seeds);
        var (firstName, firstEnvironment) = nodes.First();
        List<Node> started = [StartNode(host, New(firstName, ""), firstEnvironment, firstConfig)];
        try
        {
            var first = started[0] = started[0] with { Port = await BoundPort(started[0], started) };
            started.AddRange(nodes.Skip(1).Select(n => StartNode(host, New(n.Key, $"127.0.0.1:{first.Port}"), n.Value, _config)));
            for (var i = 1; i < started.Count; i++) started[i] = started[i] with { Port = await BoundPort(started[i], started) };
        }
        catch
        {
            Stop(host, started);
            throw;
        }
        var seeds = string.Join(",", started.Select(n => $"127.0.0.1:{n.Port}"));
        return [.. started.Select(n => n with { Seeds = seeds })];
    }

    /// <summary>The port a node reports in its "up" line, once it printed it.</summary>
    private static async Task<int> BoundPort(Node node, List<Node> nodes)
    {
        string? up = null;
        await Until(() => Task.FromResult((up = UpLine(node)) is not null), $"node {node.Name} up", nodes);
        var address = JsonDocument.Parse(up!).RootElement.GetProperty("address").GetString()!;
        return int.Parse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string? UpLine(Node node) =>
        File.Exists(node.Output)
            ? File.ReadLines(node.Output).FirstOrDefault(l => l.StartsWith('{') && l.Contains("\"state\":\"up\"", StringComparison.Ordinal))
            : null;

    private Node StartNode(TaskHost host, Node node, string[] environment, string config)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        var pid = host.Spawn(node.Output, ["env", $"GPUCKPT_NODE_NAME={node.Name}", $"GPUCKPT_NODE_PORT={node.Port}", $"GPUCKPT_SEED_NODES={node.Seeds}",
            .. environment, "dotnet", dll, "node", "--config", config, "--state-dir", node.StateDir, "--json"]);
        return node with { Pid = pid };
    }

    /// <summary>The node started again on its port and state directory (after it was killed), with a fresh output file.</summary>
    private Node Restart(TaskHost host, Node node, string[] environment) =>
        StartNode(host, node with { Output = node.Output + ".again" }, environment, _config);

    /// <summary>Every node said it is up, and node a sees all of them up (it picks the target among its members).</summary>
    private async Task WaitUp(List<Node> nodes)
    {
        foreach (var node in nodes)
            await Until(() => Task.FromResult(UpLine(node) is not null), $"node {node.Name} up", nodes);
        await Until(async () =>
        {
            var status = await GpuckptProcess.RunAsync(["cluster", "status", "--node", $"127.0.0.1:{nodes[0].Port}", "--config", _config, "--json"], timeout: Timeout);
            if (status.ExitCode != 0) return false;
            var members = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray().ToList();
            return members.Count == nodes.Count && members.All(m => m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean());
        }, "every node up as node a sees them", nodes);
    }

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

    private Task<GpuckptProcess.Result> Migrate(List<Node> nodes, uint pid, string to, params string[] more) =>
        GpuckptProcess.RunAsync(["migrate", "--criu", "--pid", $"{pid}", .. more.Contains("--from") ? Array.Empty<string>() : ["--from", "a"], "--to", to,
            "--node", $"127.0.0.1:{nodes[0].Port}", "--config", _config, .. more], timeout: Timeout);

    /// <summary>A migration that dumps the process: the taskhost reaps the dumped copy meanwhile, as init would, so that its pid is free again.</summary>
    private async Task<(GpuckptProcess.Result Run, int DumpedExit)> MigrateReaping(TaskHost host, List<Node> nodes, int pid, string to, params string[] more)
    {
        var migrate = Migrate(nodes, (uint)pid, to, more);
        var reaped = Task.Run(() => host.Wait(pid));
        var run = await migrate;
        Assert.True(await Task.WhenAny(reaped, Task.Delay(Timeout)) == reaped, $"pid {pid} was never dumped: {run}\n{Tails(nodes)}");
        return (run, await reaped);
    }

    private static void AssertOneLine(GpuckptProcess.Result run, string says, string seed)
    {
        Assert.True(run.ExitCode == 1, $"seed {seed}: {run}");
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.True(run.Stderr.Trim().Split('\n').Length == 1 && run.Stderr.Contains(says, StringComparison.Ordinal),
            $"seed {seed}: not one line saying \"{says}\": {run}");
    }

    /// <summary>The pid runs again (not a zombie), a new incarnation of it (CRIU restored it), adopted by the taskhost.</summary>
    private static void AssertRunsAgain(int pid, TaskHost host, ProcessIdentity before)
    {
        var now = ProcessIdentity.Of((uint)pid);
        Assert.True(now is not null, $"pid {pid} does not run after the migration (state {ProcessIdentity.State((uint)pid) ?? "gone"})");
        Assert.NotEqual(before.StartTicks, now.StartTicks);
        Assert.Equal(Path.GetFileName(CriuPrograms.GpuApp), ProcessIdentity.Command((uint)pid));
        Assert.Equal($"{host.Pid}", CriuProcessSpecs.Status(pid, "PPid:"));
    }

    /// <summary>No node keeps a dump or a received image once a migration has ended.</summary>
    private static void AssertNothingLeft(List<Node> nodes, string seed)
    {
        var held = Held(nodes);
        Assert.True(held.Count == 0, $"seed {seed}: kept {string.Join(", ", held)}");
    }

    /// <summary>The dumps and received images the nodes hold.</summary>
    private static List<string> Held(List<Node> nodes) =>
        [.. from node in nodes
            from side in new[] { "criu-out", "criu-in" }
            let dir = Path.Combine(node.StateDir, "migrations", side)
            where Directory.Exists(dir)
            from entry in Directory.GetFileSystemEntries(dir)
            select entry];

    /// <summary>A pid no process has (the highest the kernel hands out, unless taken).</summary>
    private static uint NoProcess()
    {
        var max = uint.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        for (var pid = max - 1; pid > 1; pid--)
            if (!ProcessIdentity.Taken(pid)) return pid;
        throw new InvalidOperationException("every pid is taken");
    }

    private static string Tails(List<Node> nodes) =>
        string.Join("\n", nodes.Select(n => $"--- node {n.Name}:\n" +
            (File.Exists(n.Output) ? string.Join("\n", File.ReadLines(n.Output).TakeLast(25)) : "(no output)")));

    /// <summary>SIGTERM: each node leaves and stops its simulator; the taskhost reaps it.</summary>
    private static void Stop(TaskHost host, List<Node> nodes)
    {
        // Pid 0: a node killed and not started again.
        foreach (var node in nodes.Where(n => n.Pid != 0)) Libc.Kill(node.Pid, 15);
        foreach (var node in nodes.Where(n => n.Pid != 0)) host.Wait(node.Pid);
    }
}
