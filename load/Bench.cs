using System.Diagnostics;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Load;

/// <summary>
/// Engine vs raw copy of the same bytes, in one run: raw = every VRAM/GTT BO read through its mapping by one thread
/// into one file (then fsync), and written back, once from the page cache and once from the disk (the file's pages
/// dropped first, as the engine's image written with O_DIRECT never was in the page cache); engine = gpuckpt
/// checkpoint and restore. Prints MB/s and ratios.
/// </summary>
public static class Bench
{
    public static async Task<int> Run(ulong size, int runs)
    {
        var work = Directory.CreateTempSubdirectory("gpuckpt-bench-").FullName;
        try
        {
            using var server = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "sim.sock")) { Gpus = 2 });
            using var client = SimulatorClient.Connect(server.SocketPath);
            await using var engine = EngineHost.Start(client);
            var rows = new List<(double RawSave, double EngineSave, double RawLoad, double EngineLoad, long Bytes, long Allocated, double RawLoadDisk)>();
            for (var run = 0; run < runs; run++)
            {
                var pid = client.Spawn(WorkloadRequest.Named("train", (ulong)run + 1, sizeBytes: size));
                var raw = Path.Combine(work, $"raw-{run}");
                var (bytes, rawSave, rawLoad, rawLoadDisk) = RawCopy(client, pid, raw);

                var before = GC.GetTotalAllocatedBytes(precise: true);
                var clock = Stopwatch.StartNew();
                var images = Path.Combine(work, $"image-{run}");
                if (await engine.CheckpointAsync(new CheckpointRequest(pid, images, LeaveRunning: true), TimeSpan.FromHours(1)) is not CheckpointCompleted)
                    throw new InvalidOperationException("checkpoint failed");
                var engineSave = clock.Elapsed.TotalSeconds;
                clock.Restart();
                if (await engine.RestoreAsync(new RestoreRequest(images), TimeSpan.FromHours(1)) is not RestoreCompleted restored)
                    throw new InvalidOperationException("restore failed");
                var engineLoad = clock.Elapsed.TotalSeconds;
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                client.Kill(pid);
                client.Kill(restored.Summary.Pid);
                Directory.Delete(images, true);
                Directory.Delete(raw, true);
                rows.Add((rawSave, engineSave, rawLoad, engineLoad, bytes, allocated, rawLoadDisk));
            }
            double Median(Func<(double, double, double, double, long, long, double), double> f) => Statistics.Median.Of(rows, f);
            var mb = rows[0].Bytes / 1e6;
            var rs = Median(r => r.Item1);
            var es = Median(r => r.Item2);
            var rl = Median(r => r.Item3);
            var el = Median(r => r.Item4);
            var rd = Median(r => r.Item7);
            Console.WriteLine($"train, {rows[0].Bytes} bytes of BO contents, {CountOfRuns.Describe(runs)}, pool {engine.Pool.Bytes} bytes");
            Console.WriteLine($"checkpoint: raw {mb / rs,8:F0} MB/s   engine {mb / es,8:F0} MB/s   engine/raw {rs / es:F2}");
            Console.WriteLine($"restore:    raw {mb / rl,8:F0} MB/s   engine {mb / el,8:F0} MB/s   engine/raw {rl / el:F2}   " +
                              $"(raw from the disk {mb / rd:F0} MB/s, engine/raw {rd / el:F2})");
            Console.WriteLine($"managed bytes allocated per checkpoint+restore: {Median(r => r.Item6) / 1e6:F1} MB (BO contents {mb:F0} MB)");
            return 0;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    /// <summary>One thread, one 4 MiB buffer: BO contents to one file (fsync), then back into the BOs, from the page cache and from the disk.</summary>
    private static (long Bytes, double Save, double Load, double LoadDisk) RawCopy(SimulatorClient client, uint pid, string dir)
    {
        Directory.CreateDirectory(dir);
        using var kfd = client.OpenKfd(pid);
        var snapshot = KfdCheckpoint.Checkpoint(kfd, KfdCheckpoint.ProcessInfo(kfd));
        var topology = client.Topology();
        var minorOf = snapshot.Devices.ToDictionary(d => d.user_gpu_id, d => topology.Single(g => g.GpuId == d.actual_gpu_id).DrmRenderMinor);
        var bos = snapshot.Bos.Where(b => ((KfdAllocFlags)b.alloc_flags).HasContents()).ToList();
        var buffer = new byte[4 << 20];
        var path = Path.Combine(dir, "raw.bin");
        long bytes = 0;
        var clock = Stopwatch.StartNew();
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
        {
            foreach (var bo in bos)
            {
                using var map = client.MapBo(minorOf[bo.gpu_id], bo.offset, bo.size, writable: false);
                for (ulong at = 0; at < bo.size; at += (ulong)buffer.Length)
                {
                    var n = (int)Math.Min((ulong)buffer.Length, bo.size - at);
                    map.Read(at, buffer.AsSpan(0, n));
                    file.Write(buffer, 0, n);
                }
                bytes += (long)bo.size;
            }
            file.Flush(flushToDisk: true);
        }
        var save = clock.Elapsed.TotalSeconds;
        var load = Load();
        Comparators.Caches.Evict(path);
        var loadDisk = Load();
        foreach (var fd in snapshot.Bos.Where(b => b.dmabuf_fd != KfdSnapshot.InvalidFd)) client.CloseFd((int)fd.dmabuf_fd);
        KfdCheckpoint.Unpause(kfd);
        return (bytes, save, load, loadDisk);

        double Load()
        {
            clock.Restart();
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
                foreach (var bo in bos)
                {
                    using var map = client.MapBo(minorOf[bo.gpu_id], bo.offset, bo.size, writable: true);
                    for (ulong at = 0; at < bo.size; at += (ulong)buffer.Length)
                    {
                        var n = (int)Math.Min((ulong)buffer.Length, bo.size - at);
                        file.ReadExactly(buffer, 0, n);
                        map.Write(at, buffer.AsSpan(0, n));
                    }
                }
            return clock.Elapsed.TotalSeconds;
        }
    }
}
