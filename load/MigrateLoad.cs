using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gpuckpt.Simulator;
using Gpuckpt.Host;
using Gpuckpt.Load.Comparators;

namespace Gpuckpt.Load;

/// <summary>
/// `gpuckpt-load migrate`: two `gpuckpt node` processes on loopback, a `train` process moved from a to b, and in the
/// same run a raw TCP copy (one connection, 4 MiB buffer, fsync at the end) of an image of the same process's bytes.
/// Prints the migration's transfer rate against the raw copy's, and how long the source was paused. Nodes are
/// long-running daemons: the first migration after they start also compiles the engine's hot paths (tiered JIT, on
/// the same two cores as the copy), so it is a warm-up round, printed on its own line and not counted, as the first
/// round of `gpuckpt-load cli` is not.
/// </summary>
public static class MigrateLoad
{
    public static async Task<int> Run(ulong size, string? gpuckpt, int runs, bool alsoPlain = false)
    {
        using var machines = TwoMachines.Start("gpuckpt-migrate-load-");
        var tls = await Migrations("tls", null, size, gpuckpt, runs, machines);
        // The same migrations with the cluster's TLS off (remoting and the data port in clear): what TLS costs.
        (List<Row> Rows, Row First, bool Same)? plain = null;
        if (alsoPlain)
        {
            var conf = Path.Combine(machines.Work, "plain.conf");
            File.WriteAllText(conf, File.ReadAllText(Path.Combine(Actors.EngineConfig.Directory(), "node.conf")) + "\ngpuckpt.tls.enabled = off\n");
            plain = await Migrations("plain", conf, size, gpuckpt, runs, machines);
        }

        Console.WriteLine($"train, {size} bytes of BO contents, a -> b on loopback, {CountOfRuns.Describe(runs)} after a warm-up migration");
        Print("", tls.Rows);
        Console.WriteLine($"the warm-up migration (the first after the nodes started): {tls.First.MigrateRate:F0} MB/s against {tls.First.RawRate:F0} MB/s, " +
                          $"migration/raw {tls.First.MigrateRate / tls.First.RawRate:F2}, paused {tls.First.Pause:F2} s");
        if (plain is { } p)
        {
            Print("without TLS: ", p.Rows);
            Console.WriteLine($"TLS costs: transfer rate with TLS / without: {Median(tls.Rows, r => r.MigrateRate) / Median(p.Rows, r => r.MigrateRate):F2}; " +
                              $"pause with TLS {Median(tls.Rows, r => r.Pause):F2} s, without {Median(p.Rows, r => r.Pause):F2} s");
        }
        var allSame = tls.Same && (plain?.Same ?? true);
        Console.WriteLine($"every continuation on b equals its uninterrupted twin: {allSame}");
        return allSame ? 0 : 1;
    }

    /// <summary>The medians of <paramref name="runs"/> migrations over TLS, as users run them.</summary>
    public static async Task<MigrateLoadResult> Measure(ulong size, string? gpuckpt, int runs)
    {
        using var machines = TwoMachines.Start("gpuckpt-migrate-load-");
        var (rows, first, same) = await Migrations("tls", null, size, gpuckpt, runs, machines);
        return new MigrateLoadResult(Median(rows, r => r.MigrateRate / r.RawRate), Median(rows, r => r.MigrateRate), Median(rows, r => r.RawRate),
            Median(rows, r => r.Pause), same, first.MigrateRate / first.RawRate, first.MigrateRate, first.Pause, [.. rows.Select(r => r.MigrateRate / r.RawRate)]);
    }

    private sealed record Row(double Transfer, double MigrateRate, double RawRate, double Pause, double Total);

    private static double Median(List<Row> rows, Func<Row, double> f) => Statistics.Median.Of(rows, f);

    private static void Print(string label, List<Row> rows)
    {
        Console.WriteLine($"{label}migration transfer (checkpoint streamed while written, target writes, commits and signs its copy): {Median(rows, r => r.Transfer):F2} s, {Median(rows, r => r.MigrateRate):F0} MB/s");
        Console.WriteLine($"{label}raw TCP copy of the same process's image (read, send, write, fsync): {Median(rows, r => r.RawRate):F0} MB/s");
        Console.WriteLine($"{label}migration/raw: {Median(rows, r => r.MigrateRate / r.RawRate):F2}");
        Console.WriteLine($"{label}source paused (PROCESS_INFO -> source released): {Median(rows, r => r.Pause):F2} s; whole migration {Median(rows, r => r.Total):F2} s");
    }

    /// <summary>
    /// Two node processes (with <paramref name="config"/>, or the shipped node.conf), a warm-up migration a -> b and then
    /// <paramref name="runs"/> counted ones, each beside a raw TCP copy.
    /// </summary>
    private static async Task<(List<Row> Rows, Row First, bool Same)> Migrations(string name, string? config, ulong size, string? gpuckpt, int runs, TwoMachines machines)
    {
        var (work, simA, a, b) = (machines.Work, machines.SimA, machines.A, machines.B);
        string[] withConfig = config is null ? [] : ["--config", config];
        // The gpuckpt that the nodes and commands run: users run the published one (ReadyToRun), not a build output.
        await using var nodes = await LocalNodes.Start([
            ("a", $"sim:{simA.SocketPath}", Path.Combine(work, $"{name}-state-a")),
            ("b", $"sim:{machines.SimB.SocketPath}", Path.Combine(work, $"{name}-state-b")),
        ], Path.Combine(work, "cluster"), gpuckpt, config);
        var rows = new List<Row>();
        Row? first = null;
        var allSame = true;
        for (var run = 0; run <= runs; run++)
        {
            var seed = 2026UL + (ulong)run;
            var pid = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
            var twin = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
            a.Run(pid, 2);
            a.Run(twin, 2);

            var migrate = await LocalNodes.Run(["migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", nodes.Endpoint("b"), "--json", .. withConfig], gpuckpt, nodes.ClusterDir);
            var m = JsonDocument.Parse(migrate).RootElement;
            var bytes = m.GetProperty("image_bytes").GetInt64();
            var transfer = m.GetProperty("transfer_seconds").GetDouble();
            var pause = m.GetProperty("pause_seconds").GetDouble();
            var total = m.GetProperty("seconds").GetDouble();
            var target = m.GetProperty("target_pid").GetUInt32();
            b.Run(target, 1);
            a.Run(twin, 1);
            var same = b.State(target).Digest == a.State(twin).Digest;
            allSame &= same;

            // The same bytes: an image of the twin (same workload, same steps before the move), copied raw over TCP.
            var image = Path.Combine(work, $"twin-image-{name}-{run}");
            await LocalNodes.Run(["checkpoint", "--driver", $"sim:{simA.SocketPath}", "--pid", $"{twin}", "--images", image, "--leave-running",
                "--state-dir", Path.Combine(work, "state-cli"), "--json"], gpuckpt);
            var (rawBytes, rawSeconds) = await RawTcpCopy.Run(image, Path.Combine(work, $"raw-copy-{name}-{run}"));
            b.Kill(target);
            a.Kill(twin);
            Directory.Delete(image, true);
            Directory.Delete(Path.Combine(work, $"raw-copy-{name}-{run}"), true);

            var row = new Row(transfer, bytes / transfer / 1e6, rawBytes / rawSeconds / 1e6, pause, total);
            if (run == 0) first = row;
            else rows.Add(row);
            Console.Error.WriteLine($"{name} {(run == 0 ? "warm-up" : $"run {run}")}: {bytes} image bytes (frames {m.GetProperty("bytes_sent").GetInt64()} bytes, {m.GetProperty("bytes_resent").GetInt64()} resent); " +
                                    $"transfer {transfer:F2} s ({row.MigrateRate:F0} MB/s), raw TCP {rawSeconds:F2} s ({row.RawRate:F0} MB/s), pause {pause:F2} s, " +
                                    $"continued on b like its twin: {same}");
        }
        return (rows, first!, allSame);
    }
}
