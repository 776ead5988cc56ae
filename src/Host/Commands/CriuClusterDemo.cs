using System.Diagnostics;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Native;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt demo --cluster --criu`: two `gpuckpt node` processes on loopback and a CPU counter process (a session of its
/// own, appending each value to a file); `migrate --criu` moves the whole process from node a to node b, and the demo
/// shows that the same pid runs again, that the counter went on from the value at the dump, and that one copy counted.
/// </summary>
internal static class CriuClusterDemo
{
    /// <summary>One value a line into the file named by its argument, every 20 ms; no children (CRIU dumps one process).</summary>
    private const string Counter =
        "open STDIN, '<', '/dev/null'; open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null'; my $i = 0; " +
        "while (1) { $i++; open my $f, '>>', $ARGV[0] or die; print $f \"$i\\n\"; close $f; select undef, undef, undef, 0.02 }";

    public static async Task<int> Run(bool json)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new InvalidOperationException("demo --cluster --criu needs root: CRIU dumps and restores the process (run it with sudo)");
        var criu = CriuInstall.Require();
        var settings = EngineConfig.Load();
        var timeout = settings.GetTimeSpan("gpuckpt.criu.demo-timeout");
        var ticks = settings.GetInt("gpuckpt.criu.demo-counter-ticks");
        var work = Directory.CreateTempSubdirectory("gpuckpt-criu-cluster-demo-").FullName;
        void Say(string line)
        {
            if (!json) Console.Out.WriteLine(line);
        }
        Process? counter = null;
        uint pid = 0;
        try
        {
            using var machineA = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "a.sock")) { Gpus = 1, IdSeed = 0 });
            using var machineB = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "b.sock")) { Gpus = 1, IdSeed = 9 });
            await using var nodes = await LocalNodes.Start([
                ("a", $"sim:{machineA.SocketPath}", Path.Combine(work, "state-a")),
                ("b", $"sim:{machineB.SocketPath}", Path.Combine(work, "state-b")),
            ], Path.Combine(work, "cluster"));
            Say($"node a up at {nodes.Endpoint("a")}, node b up at {nodes.Endpoint("b")}; CRIU {criu.Version}");

            var count = Path.Combine(work, "count");
            var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
            foreach (var a in new[] { "perl", "-e", Counter, count }) start.ArgumentList.Add(a);
            counter = Process.Start(start) ?? throw new InvalidOperationException("the counter process did not start");
            pid = (uint)counter.Id;
            await Counts(count, ticks, timeout);
            var before = ProcessIdentity.Of(pid) ?? throw new InvalidOperationException($"the counter process {pid} ended by itself");
            Say($"counter process {pid} (its own session) counts into {count}");

            IMigrationMessage outcome;
            var dumped = CountAtExit(counter, count);
            await using (var contact = ClusterContact.Open(nodes.Endpoint("b"), "node.conf", nodes.ClusterDir))
                outcome = await MigrateCommand.Migrate(contact, new MigrateRequest(pid, "a", "b"), Cli.Interactive(json), whole: true);
            if (outcome is not MigrationCompleted { Summary: var s }) return MigrateCommand.Report(outcome, json);
            var atDump = await dumped.WaitAsync(timeout);

            var after = ProcessIdentity.Of(s.TargetPid);
            var values = await Counts(count, atDump + ticks, timeout);
            var firstAfter = values[atDump];
            var samePid = s.TargetPid == pid && after is not null && after.StartTicks != before.StartTicks;
            // Every value once, in order: one copy counted at a time and the restored one went on from the dumped value.
            var inOrder = values.Select((v, i) => v == i + 1).All(x => x);
            var ok = samePid && inOrder && firstAfter == atDump + 1;
            if (json)
                Cli.PrintJson(new
                {
                    ok, pid_before = pid, pid_after = s.TargetPid, from = s.From, to = s.To, counter_at_dump = atDump,
                    counter_first_after_restore = firstAfter, counter_after_restore = values[^1], counter_in_order = inOrder,
                    image_bytes = s.ImageBytes, pause_seconds = s.PauseSeconds, transfer_seconds = s.TransferSeconds, seconds = s.Seconds,
                    criu_version = criu.Version.ToString(),
                });
            else
            {
                Console.Out.WriteLine($"pid on a {pid}, on b {s.TargetPid}: {(samePid ? "the same pid, a new process" : "DIFFERENT")}");
                Console.Out.WriteLine($"CPU counter at the dump {atDump}, first on b {firstAfter}, now {values[^1]}: " +
                                      (inOrder && firstAfter == atDump + 1 ? "it went on from the dumped value, one copy at a time" : "it did NOT go on from the dumped value"));
                Console.Out.WriteLine($"image {s.ImageBytes} bytes in {s.TransferSeconds:F2} s; the process was down {s.PauseSeconds:F2} s, {s.Seconds:F2} s in all");
                Console.Out.WriteLine(ok ? "the whole process moved from a to b under its pid and went on as if never stopped" : "MISMATCH: the moved process differs");
            }
            return ok ? Cli.ExitOk : Cli.ExitFailed;
        }
        finally
        {
            // The counter runs as the demo's child or, restored, as init's: ended either way.
            if (pid != 0 && ProcessIdentity.Of(pid) is not null) Libc.Kill((int)pid, 9);
            counter?.Dispose();
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The counter's last value once CRIU has ended the process (its parent, this demo, reaps it).</summary>
    private static async Task<int> CountAtExit(Process counter, string count)
    {
        await counter.WaitForExitAsync().ConfigureAwait(false);
        return Read(count).Count;
    }

    private static List<int> Read(string count) =>
        File.Exists(count) ? [.. File.ReadAllLines(count).Where(l => l.Length > 0).Select(int.Parse)] : [];

    /// <summary>Waits until the counter wrote at least <paramref name="atLeast"/> values; all values so far.</summary>
    private static async Task<List<int>> Counts(string count, int atLeast, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (Read(count) is var values && values.Count < atLeast)
        {
            try
            {
                await tick.WaitForNextTickAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the counter wrote {values.Count} values in {timeout.TotalSeconds:F0} s, not {atLeast}");
            }
        }
        return Read(count);
    }
}
