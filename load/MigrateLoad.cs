using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Gpuckpt.Engine.Simulation;
using Gpuckpt.Host;

namespace Gpuckpt.Load;

/// <summary>
/// `gpuckpt-load migrate`: two `gpuckpt node` processes on loopback, a `train` process moved from a to b, and in the
/// same run a raw TCP copy (one connection, 4 MiB buffer, fsync at the end) of an image of the same process's bytes.
/// Prints the migration's transfer rate against the raw copy's, and how long the source was paused.
/// </summary>
public static class MigrateLoad
{
    public static async Task<int> Run(Arguments args)
    {
        var size = args.U64("size", 1UL << 30);
        // The gpuckpt that the nodes and commands run: users run the published one (ReadyToRun), not a build output.
        var gpuckpt = args.String("gpuckpt", "") is { Length: > 0 } given ? given : null;
        var work = Directory.CreateTempSubdirectory("gpuckpt-migrate-load-").FullName;
        try
        {
            using var simA = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "a.sock")) { Gpus = 2, IdSeed = 0 });
            using var simB = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "b.sock")) { Gpus = 2, IdSeed = 9 });
            using var a = SimulatorClient.Connect(simA.SocketPath);
            using var b = SimulatorClient.Connect(simB.SocketPath);
            await using var nodes = await LocalNodes.Start([
                ("a", $"sim:{simA.SocketPath}", Path.Combine(work, "state-a")),
                ("b", $"sim:{simB.SocketPath}", Path.Combine(work, "state-b")),
            ], Path.Combine(work, "cluster"), gpuckpt);

            var pid = a.Spawn(WorkloadRequest.Named("train", 2026, sizeBytes: size));
            var twin = a.Spawn(WorkloadRequest.Named("train", 2026, sizeBytes: size));
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

            // The same bytes: an image of the twin (same workload, same steps before the move), copied raw over TCP.
            var image = Path.Combine(work, "twin-image");
            await LocalNodes.Run(["checkpoint", "--driver", $"sim:{simA.SocketPath}", "--pid", $"{twin}", "--images", image, "--leave-running",
                "--state-dir", Path.Combine(work, "state-cli"), "--json"], gpuckpt);
            var (rawBytes, rawSeconds) = await RawTcpCopy(image, Path.Combine(work, "raw-copy"));

            var migrateRate = bytes / transfer / 1e6;
            var rawRate = rawBytes / rawSeconds / 1e6;
            Console.WriteLine($"train, {bytes} image bytes, a -> b on loopback (frames {m.GetProperty("bytes_sent").GetInt64()} bytes, {m.GetProperty("bytes_resent").GetInt64()} resent)");
            Console.WriteLine($"migration transfer (checkpoint streamed while written, target writes, commits and signs its copy): {transfer:F2} s, {migrateRate:F0} MB/s");
            Console.WriteLine($"raw TCP copy of {rawBytes} bytes of the same process's image (read, send, write, fsync): {rawSeconds:F2} s, {rawRate:F0} MB/s");
            Console.WriteLine($"migration/raw: {migrateRate / rawRate:F2}");
            Console.WriteLine($"source paused (PROCESS_INFO -> source released): {pause:F2} s; whole migration {total:F2} s");
            Console.WriteLine($"continuation on b equals the uninterrupted twin: {same}");
            return same ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    /// <summary>Every file of <paramref name="from"/> through one loopback connection into <paramref name="to"/>, fsynced.</summary>
    private static async Task<(long Bytes, double Seconds)> RawTcpCopy(string from, string to)
    {
        Directory.CreateDirectory(to);
        var files = Directory.GetFiles(from).Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), new FileInfo(f).Length)).ToList();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clock = Stopwatch.StartNew();
        var receive = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await using var stream = new NetworkStream(socket);
            var buffer = new byte[4 << 20];
            foreach (var (name, length) in files)
            {
                await using var file = new FileStream(Path.Combine(to, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
                for (long left = length; left > 0;)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
                    if (n == 0) throw new EndOfStreamException("sender closed early");
                    await file.WriteAsync(buffer.AsMemory(0, n));
                    left -= n;
                }
                file.Flush(flushToDisk: true);
            }
        });
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            await using var stream = client.GetStream();
            var buffer = new byte[4 << 20];
            foreach (var (name, _) in files)
            {
                await using var file = new FileStream(Path.Combine(from, name), FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                int n;
                while ((n = await file.ReadAsync(buffer)) > 0) await stream.WriteAsync(buffer.AsMemory(0, n));
            }
        }
        await receive;
        return (files.Sum(f => f.Item2), clock.Elapsed.TotalSeconds);
    }
}
