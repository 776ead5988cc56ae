using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gpuckpt.Simulator;

namespace Gpuckpt.Load;

/// <summary>
/// The engine as users run it: `gpuckpt checkpoint` and `gpuckpt restore` as their own processes (engine start, SQLite
/// journal, exit included), each timed against `dd bs=4M` of the same number of bytes in the same run, pair by pair:
/// checkpoint against dd from /dev/shm to a file beside the image with conv=fsync, restore against dd of that file
/// back into /dev/shm, once from the page cache and once from the disk (iflag=direct, as the engine's restore reads an
/// image it wrote past the page cache). Prints the wall times, the engine/dd ratios (dd time ÷ engine time: 1 is dd's speed), the pause
/// the process felt, µs per BO and each command's peak RSS (from /usr/bin/time).
/// </summary>
public static class CliBench
{
    public static async Task<int> Run(CliBenchSettings args)
    {
        var runs = args.Runs;
        // Memory measurements of large images: the command alone, no dd beside it and no restore (which would need the memory twice).
        var checkpointOnly = args.CheckpointOnly;
        var gpuckpt = args.Gpuckpt ?? Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        if (!File.Exists(gpuckpt)) throw new FileNotFoundException($"{gpuckpt} not found: build src/Host or pass --gpuckpt PATH/gpuckpt.dll");
        var work = Directory.CreateTempSubdirectory("gpuckpt-cli-bench-").FullName;
        var shm = Path.Combine("/dev/shm", Path.GetFileName(work));
        Directory.CreateDirectory(shm);
        try
        {
            using var server = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "sim.sock")) { Gpus = args.Gpus });
            using var client = SimulatorClient.Connect(server.SocketPath);
            var pid = client.Spawn(Request(args));
            var driver = $"sim:{server.SocketPath}";
            var state = Path.Combine(work, "state");
            var ddOut = Path.Combine(work, "dd.out");
            var rows = new List<Row>();
            long bytes = 0;
            int bos = 0;
            for (var run = 0; run <= runs; run++)
            {
                // Each run writes a directory of its own, and every image stays until the bench ends. On an ext4
                // without a journal, creating a file scans past every inode freed in the last minutes: 7 000 render
                // BO files created over the 7 000 of an image deleted just before took 3.3 CPU-seconds more.
                var images = Path.Combine(work, $"image-{run}");
                Clean(ddOut, Path.Combine(shm, "dd.back"));
                var checkpoint = await Gpuckpt(gpuckpt, ["checkpoint", "--driver", driver, "--pid", $"{pid}", "--images", images, "--leave-running", "--state-dir", state, "--json"]);
                bytes = checkpoint.Json.GetProperty("bytes").GetInt64();
                bos = checkpoint.Json.GetProperty("bos").GetInt32();
                if (checkpointOnly)
                {
                    Console.Error.WriteLine($"run {run}: checkpoint {checkpoint.Seconds:F2} s, pause {checkpoint.Json.GetProperty("pause_seconds").GetDouble():F2} s, peak RSS {checkpoint.PeakKiB / 1024:F0} MiB");
                    if (run > 0) rows.Add(new Row(checkpoint.Seconds, 0, checkpoint.Json.GetProperty("pause_seconds").GetDouble(), checkpoint.PeakKiB, 0, 0, 0, 0));
                    continue;
                }
                var source = Path.Combine(shm, "dd.in");
                if (!File.Exists(source)) Fill(source, bytes);
                var ddSave = await Timed("dd", [$"if={source}", $"of={ddOut}", "bs=4M", "conv=fsync", "status=none"]);
                var restore = await Gpuckpt(gpuckpt, ["restore", "--driver", driver, "--images", images, "--state-dir", state, "--json"]);
                client.Kill(restore.Json.GetProperty("pid").GetUInt32());
                var ddLoad = await Timed("dd", [$"if={ddOut}", $"of={Path.Combine(shm, "dd.back")}", "bs=4M", "status=none"]);
                // The engine writes its image past the page cache, so its restore reads from the disk: so does this dd.
                Clean(Path.Combine(shm, "dd.back"));
                var ddLoadDisk = await Timed("dd", [$"if={ddOut}", $"of={Path.Combine(shm, "dd.back")}", "bs=4M", "iflag=direct", "status=none"]);
                // The first round warms page cache, JIT caches and the journal file; it is not counted.
                if (run == 0) continue;
                rows.Add(new Row(checkpoint.Seconds, ddSave.Seconds, checkpoint.Json.GetProperty("pause_seconds").GetDouble(), checkpoint.PeakKiB,
                    restore.Seconds, ddLoad.Seconds, restore.PeakKiB, restore.Json.GetProperty("reads_per_content_byte").GetDouble(), ddLoadDisk.Seconds));
                Console.Error.WriteLine($"run {run}: checkpoint {checkpoint.Seconds:F2} s (dd {ddSave.Seconds:F2} s; {Phases(checkpoint)}), " +
                                        $"restore {restore.Seconds:F2} s (dd {ddLoad.Seconds:F2} s, from the disk {ddLoadDisk.Seconds:F2} s; {Phases(restore)})");
            }
            client.Kill(pid);
            double Median(Func<Row, double> f) => rows.Select(f).Order().ElementAt(rows.Count / 2);
            if (checkpointOnly)
            {
                Console.WriteLine($"{Describe(args)}: {bytes} bytes of BO contents, {bos} BOs; {CountOfRuns.Describe(runs)}");
                Console.WriteLine($"checkpoint: gpuckpt {Median(r => r.Checkpoint):F2} s   pause {Median(r => r.Pause):F2} s   peak RSS {Median(r => r.CheckpointKiB) / 1024:F0} MiB (max {rows.Max(r => r.CheckpointKiB) / 1024:F0} MiB)");
                return 0;
            }
            Console.WriteLine($"{Describe(args)}: {bytes} bytes of BO contents, {bos} BOs; {CountOfRuns.Describe(runs)}, each pair in the same run");
            Console.WriteLine($"checkpoint: gpuckpt {Median(r => r.Checkpoint):F2} s   dd {Median(r => r.DdSave):F2} s   dd/gpuckpt {Median(r => r.DdSave / r.Checkpoint):F2}   " +
                              $"pause {Median(r => r.Pause):F2} s   {Median(r => r.Checkpoint) * 1e6 / bos:F1} µs/BO   peak RSS {Median(r => r.CheckpointKiB) / 1024:F0} MiB");
            Console.WriteLine($"restore:    gpuckpt {Median(r => r.Restore):F2} s   dd {Median(r => r.DdLoad):F2} s   dd/gpuckpt {Median(r => r.DdLoad / r.Restore):F2}   " +
                              $"dd from the disk {Median(r => r.DdLoadDisk):F2} s   dd/gpuckpt {Median(r => r.DdLoadDisk / r.Restore):F2}   " +
                              $"content bytes read {Median(r => r.ReadsPerByte):F2}x   {Median(r => r.Restore) * 1e6 / bos:F1} µs/BO   peak RSS {Median(r => r.RestoreKiB) / 1024:F0} MiB");
            Console.WriteLine($"checkpoint + restore: {Median(r => r.Checkpoint + r.Restore):F2} s");
            return 0;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
            try { Directory.Delete(shm, true); } catch (IOException) { }
        }
    }

    private sealed record Row(double Checkpoint, double DdSave, double Pause, double CheckpointKiB, double Restore, double DdLoad, double RestoreKiB, double ReadsPerByte, double DdLoadDisk = 0);

    private static string Phases(Timing t) =>
        string.Join(", ", t.Json.GetProperty("phases").EnumerateArray().Select(p => $"{p.GetProperty("phase").GetString()} {p.GetProperty("seconds").GetDouble():F2}"));

    private sealed record Timing(double Seconds, double PeakKiB, JsonElement Json);

    private static WorkloadRequest Request(CliBenchSettings args)
    {
        if (args.Spec is { } spec) return new WorkloadRequest(null, args.Seed, SpecJson: File.ReadAllText(spec));
        return args.Workload == "many-bos"
            ? WorkloadRequest.Named(args.Workload, args.Seed, sizeBytes: args.Size) with { Bos = args.Bos }
            : WorkloadRequest.Named(args.Workload, args.Seed, sizeBytes: args.Size);
    }

    private static string Describe(CliBenchSettings args) => args.Spec is { } spec ? $"spec {spec}" : args.Workload;

    private static async Task<Timing> Gpuckpt(string dll, IReadOnlyList<string> args)
    {
        var timing = await Timed("dotnet", [dll, .. args]);
        return timing;
    }

    /// <summary>Runs a command under /usr/bin/time (for its peak RSS), timing its wall clock here.</summary>
    private static async Task<Timing> Timed(string command, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-f", "peak-kib %M", command, .. args]) info.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {command}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var seconds = clock.Elapsed.TotalSeconds;
        var err = await stderr;
        if (process.ExitCode != 0) throw new InvalidOperationException($"{command} {string.Join(' ', args)} failed ({process.ExitCode}): {err}");
        var peak = err.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("peak-kib ", StringComparison.Ordinal));
        var out_ = (await stdout).Trim();
        return new Timing(seconds, peak is null ? 0 : double.Parse(peak[9..], CultureInfo.InvariantCulture),
            out_.StartsWith('{') ? JsonDocument.Parse(out_).RootElement.Clone() : default);
    }

    private static void Fill(string path, long bytes)
    {
        var buffer = new byte[4 << 20];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        var random = new Random(1);
        for (long done = 0; done < bytes; done += buffer.Length)
        {
            random.NextBytes(buffer);
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, bytes - done));
        }
    }

    private static void Clean(params string[] paths)
    {
        foreach (var path in paths)
        {
            if (Directory.Exists(path)) Directory.Delete(path, true);
            else if (File.Exists(path)) File.Delete(path);
        }
    }
}
