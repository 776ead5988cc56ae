using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gpuckpt.Engine.Simulation;
using Gpuckpt.Host;
using Gpuckpt.Load.Comparators;

namespace Gpuckpt.Load;

/// <summary>
/// `gpuckpt-load migrate`: two `gpuckpt node` processes on loopback, a `train` process moved from a to b, and in the
/// same run a raw TCP copy (one connection, 4 MiB buffer, fsync at the end) of an image of the same process's bytes.
/// Prints the migration's transfer rate against the raw copy's, and how long the source was paused.
/// </summary>
public static class MigrateLoad
{
    public static async Task<int> Run(ulong size, string? gpuckpt, int runs)
    {
        var work = Directory.CreateTempSubdirectory("gpuckpt-migrate-load-").FullName;
        try
        {
            using var simA = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "a.sock")) { Gpus = 2, IdSeed = 0 });
            using var simB = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "b.sock")) { Gpus = 2, IdSeed = 9 });
            using var a = SimulatorClient.Connect(simA.SocketPath);
            using var b = SimulatorClient.Connect(simB.SocketPath);
            // The gpuckpt that the nodes and commands run: users run the published one (ReadyToRun), not a build output.
            await using var nodes = await LocalNodes.Start([
                ("a", $"sim:{simA.SocketPath}", Path.Combine(work, "state-a")),
                ("b", $"sim:{simB.SocketPath}", Path.Combine(work, "state-b")),
            ], Path.Combine(work, "cluster"), gpuckpt);
            var rows = new List<(double Transfer, double MigrateRate, double RawRate, double Pause, double Total)>();
            var allSame = true;
            for (var run = 0; run < runs; run++)
            {
                var seed = 2026UL + (ulong)run;
                var pid = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
                var twin = a.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: size));
                a.Run(pid, 2);
                a.Run(twin, 2);

                var migrate = await LocalNodes.Run(["migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", nodes.Endpoint("b"), "--json"], gpuckpt, nodes.ClusterDir);
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
                var image = Path.Combine(work, $"twin-image-{run}");
                await LocalNodes.Run(["checkpoint", "--driver", $"sim:{simA.SocketPath}", "--pid", $"{twin}", "--images", image, "--leave-running",
                    "--state-dir", Path.Combine(work, "state-cli"), "--json"], gpuckpt);
                var (rawBytes, rawSeconds) = await RawTcpCopy.Run(image, Path.Combine(work, $"raw-copy-{run}"));
                b.Kill(target);
                a.Kill(twin);
                Directory.Delete(image, true);
                Directory.Delete(Path.Combine(work, $"raw-copy-{run}"), true);

                var migrateRate = bytes / transfer / 1e6;
                var rawRate = rawBytes / rawSeconds / 1e6;
                rows.Add((transfer, migrateRate, rawRate, pause, total));
                Console.Error.WriteLine($"run {run + 1}: {bytes} image bytes (frames {m.GetProperty("bytes_sent").GetInt64()} bytes, {m.GetProperty("bytes_resent").GetInt64()} resent); " +
                                        $"transfer {transfer:F2} s ({migrateRate:F0} MB/s), raw TCP {rawSeconds:F2} s ({rawRate:F0} MB/s), pause {pause:F2} s, " +
                                        $"continued on b like its twin: {same}");
            }
            double Median(Func<(double, double, double, double, double), double> f) => rows.Select(r => f(r)).Order().ElementAt(rows.Count / 2);
            Console.WriteLine($"train, {size} bytes of BO contents, a -> b on loopback, {CountOfRuns.Describe(runs)}");
            Console.WriteLine($"migration transfer (checkpoint streamed while written, target writes, commits and signs its copy): {Median(r => r.Item1):F2} s, {Median(r => r.Item2):F0} MB/s");
            Console.WriteLine($"raw TCP copy of the same process's image (read, send, write, fsync): {Median(r => r.Item3):F0} MB/s");
            Console.WriteLine($"migration/raw: {Median(r => r.Item2 / r.Item3):F2}");
            Console.WriteLine($"source paused (PROCESS_INFO -> source released): {Median(r => r.Item4):F2} s; whole migration {Median(r => r.Item5):F2} s");
            Console.WriteLine($"every continuation on b equals its uninterrupted twin: {allSame}");
            return allSame ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }
}
