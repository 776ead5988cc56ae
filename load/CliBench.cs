using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gpuckpt.Load.Comparators;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;

namespace Gpuckpt.Load;

/// <summary>
/// The engine as users run it: `gpuckpt checkpoint` and `gpuckpt restore` as their own processes (start, SQLite journal,
/// exit included; an engine's start too, unless a resident engine runs their jobs: <see cref="CliBenchSettings.Resident"/>),
/// each timed against `dd bs=4M` of the same number of bytes in the same run, pair by pair: checkpoint against the faster of dd from /dev/shm to a file beside the image with conv=fsync and with
/// oflag=direct; restore against the faster of dd of that file back into /dev/shm buffered and with iflag=direct, every
/// cache dropped before each. Prints the wall times, the engine/dd ratios (dd time ÷ engine time: 1 is dd's speed), the pause
/// the process felt, µs per BO and each command's peak RSS (from /usr/bin/time; with a resident engine, the larger of that
/// and the engine's own peak).
/// </summary>
public static class CliBench
{
    public static async Task<int> Run(CliBenchSettings args)
    {
        var result = await Measure(args);
        var (bytes, bos, runs) = (result.Bytes, result.Bos, args.Runs);
        if (args.CheckpointOnly)
        {
            Console.WriteLine($"{Describe(args)}: {bytes} bytes of BO contents, {bos} BOs; {CountOfRuns.Describe(runs)}");
            Console.WriteLine($"checkpoint: gpuckpt {result.Checkpoint:F2} s   pause {result.Pause:F2} s   peak RSS {result.CheckpointMiB:F0} MiB");
            return 0;
        }
        Console.WriteLine($"{Describe(args)}: {bytes} bytes of BO contents, {bos} BOs; {CountOfRuns.Describe(runs)}, each pair in the same run");
        Console.WriteLine($"checkpoint: gpuckpt {result.Checkpoint:F2} s   dd {result.DdSave:F2} s (the faster of conv=fsync and oflag=direct)   dd/gpuckpt {result.CheckpointRatio:F2}   " +
                          $"pause {result.Pause:F2} s   {result.Checkpoint * 1e6 / bos:F1} µs/BO   peak RSS {result.CheckpointMiB:F0} MiB");
        Console.WriteLine($"restore:    gpuckpt {result.Restore:F2} s   dd {result.DdLoad:F2} s (caches dropped; the faster of buffered and iflag=direct)   dd/gpuckpt {result.RestoreRatio:F2}   " +
                          $"content bytes read {result.ReadsPerByte:F2}x   {result.Restore * 1e6 / bos:F1} µs/BO   peak RSS {result.RestoreMiB:F0} MiB");
        Console.WriteLine($"checkpoint + restore: {result.Checkpoint + result.Restore:F2} s");
        return 0;
    }

    /// <summary>
    /// The medians of <see cref="CliBenchSettings.Runs"/> counted runs, after one warm-up round. Each checkpoint is timed
    /// beside its dd pair, and which of the two goes first alternates from run to run, so that neither always follows
    /// the other's writes. A lean bench restores once, after its last checkpoint round: its process ends first.
    /// </summary>
    public static async Task<CliBenchResult> Measure(CliBenchSettings args)
    {
        var runs = args.Runs;
        // Memory measurements of large images: the command alone, no dd beside it and no restore (which would need the memory twice).
        var checkpointOnly = args.CheckpointOnly;
        var gpuckpt = args.Gpuckpt ?? Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        if (!File.Exists(gpuckpt)) throw new FileNotFoundException($"{gpuckpt} not found: build src/Host or pass --gpuckpt PATH");
        var work = Directory.CreateTempSubdirectory("gpuckpt-cli-bench-").FullName;
        var shm = Path.Combine("/dev/shm", Path.GetFileName(work));
        Directory.CreateDirectory(shm);
        try
        {
            using var server = SimulatorServer.Start(new SimulatorOptions(Path.Combine(work, "sim.sock")) { Gpus = args.Gpus });
            using var client = SimulatorClient.Connect(server.SocketPath);
            var pid = client.Spawn(Request(args));
            if (args.Sparse) PartlyFilled.Write(client, server.Topology, pid, args.Seed);
            var driver = $"sim:{server.SocketPath}";
            var state = Path.Combine(work, "state");
            await using var serving = args.Resident ? await ServedEngine.StartAsync(gpuckpt, driver, state) : null;
            var ddOut = Path.Combine(work, "dd.out");
            var ddBack = Path.Combine(shm, "dd.back");
            var source = Path.Combine(shm, "dd.in");
            var rows = new List<Row>();
            long bytes = 0;
            int bos = 0;

            // The comparator of a checkpoint: the image's bytes from /dev/shm to a durable file beside it, the faster of
            // a direct write and a buffered one with fsync. The file stays for the restore's comparator.
            async Task<(Timing Direct, Timing Buffered)> DdSave()
            {
                if (!File.Exists(source)) Fill(source, bytes);
                Clean(ddOut);
                var direct = await Timed("dd", [$"if={source}", $"of={ddOut}", "bs=4M", "oflag=direct", "conv=fsync", "status=none"]);
                Clean(ddOut);
                return (direct, await Timed("dd", [$"if={source}", $"of={ddOut}", "bs=4M", "conv=fsync", "status=none"]));
            }

            // The comparator of a restore: that file into /dev/shm with every cache dropped first, the faster of a
            // buffered read and a direct one. The restore itself starts with caches dropped too.
            async Task<(Timing Restore, Timing Buffered, Timing Direct)> Restore(string images)
            {
                await Caches.Drop(images, ddOut);
                var restore = await Gpuckpt(gpuckpt, ["restore", "--driver", driver, "--images", images, "--state-dir", state, "--json"]);
                client.Kill(restore.Json.GetProperty("pid").GetUInt32());
                await Caches.Drop(images, ddOut);
                var buffered = await Timed("dd", [$"if={ddOut}", $"of={ddBack}", "bs=4M", "status=none"]);
                Clean(ddBack);
                await Caches.Drop(images, ddOut);
                var direct = await Timed("dd", [$"if={ddOut}", $"of={ddBack}", "bs=4M", "iflag=direct", "status=none"]);
                Clean(ddBack);
                return (restore, buffered, direct);
            }

            var images = "";
            for (var run = 0; run <= runs; run++)
            {
                // Each run writes a directory of its own, and every image stays until the bench ends. On an ext4
                // without a journal, creating a file scans past every inode freed in the last minutes: 7 000 render
                // BO files created over the 7 000 of an image deleted just before took 3.3 CPU-seconds more.
                images = Path.Combine(work, $"image-{run}");
                Clean(ddBack);
                // dd goes first in every other counted run; the warm-up run learns the image's size from the checkpoint.
                var ddFirst = !checkpointOnly && run % 2 == 0 && run > 0;
                var ddSave = ddFirst ? await DdSave() : default;
                var checkpoint = await Gpuckpt(gpuckpt, ["checkpoint", "--driver", driver, "--pid", $"{pid}", "--images", images, "--leave-running", "--state-dir", state, "--json",
                    .. args.Compress ? ["--compress"] : Array.Empty<string>()]);
                bytes = checkpoint.Json.GetProperty("bytes").GetInt64();
                bos = checkpoint.Json.GetProperty("bos").GetInt32();
                var pause = checkpoint.Json.GetProperty("pause_seconds").GetDouble();
                if (checkpointOnly)
                {
                    Console.Error.WriteLine($"run {run}: checkpoint {checkpoint.Seconds:F2} s, pause {pause:F2} s, peak RSS {checkpoint.PeakKiB / 1024:F0} MiB");
                    if (run > 0) rows.Add(new Row(checkpoint.Seconds, 0, pause, checkpoint.PeakKiB, 0, 0, 0, 0));
                    continue;
                }
                if (!ddFirst) ddSave = await DdSave();
                var ddSaved = Math.Min(ddSave.Direct.Seconds, ddSave.Buffered.Seconds);
                var saved = $"run {run}: checkpoint {checkpoint.Seconds:F2} s (dd conv=fsync {ddSave.Buffered.Seconds:F2} s, oflag=direct {ddSave.Direct.Seconds:F2} s; " +
                            $"{(ddFirst ? "dd first" : "gpuckpt first")}; {Phases(checkpoint)})";
                if (args.Lean)
                {
                    Console.Error.WriteLine(saved);
                    // The first round warms page cache, JIT caches and the journal file; it is not counted.
                    if (run > 0) rows.Add(new Row(checkpoint.Seconds, ddSaved, pause, checkpoint.PeakKiB, 0, 0, 0, 0));
                    continue;
                }
                var (restore, ddLoad, ddLoadDirect) = await Restore(images);
                Console.Error.WriteLine($"{saved}, restore {restore.Seconds:F2} s (dd {ddLoad.Seconds:F2} s, iflag=direct {ddLoadDirect.Seconds:F2} s; {Phases(restore)})");
                if (run == 0) continue;
                rows.Add(new Row(checkpoint.Seconds, ddSaved, pause, checkpoint.PeakKiB,
                    restore.Seconds, Math.Min(ddLoad.Seconds, ddLoadDirect.Seconds), restore.PeakKiB, restore.Json.GetProperty("reads_per_content_byte").GetDouble()));
            }
            if (args.Lean && !checkpointOnly)
            {
                // The restored process needs the memory that the source and dd's input hold: both go first.
                Clean(source);
                client.Kill(pid);
                var (restore, ddLoad, ddLoadDirect) = await Restore(images);
                Console.Error.WriteLine($"restore of the last image: {restore.Seconds:F2} s (dd {ddLoad.Seconds:F2} s, iflag=direct {ddLoadDirect.Seconds:F2} s; {Phases(restore)})");
                rows = [.. rows.Select(r => r with
                {
                    Restore = restore.Seconds, DdLoad = Math.Min(ddLoad.Seconds, ddLoadDirect.Seconds), RestoreKiB = restore.PeakKiB,
                    ReadsPerByte = restore.Json.GetProperty("reads_per_content_byte").GetDouble(),
                })];
            }
            else client.Kill(pid);
            // A resident engine's own peak counts with each command's: it ran their jobs.
            var engineKiB = serving is null ? 0 : await serving.StopAsync();
            if (engineKiB > 0)
            {
                Console.Error.WriteLine($"resident engine: peak RSS {engineKiB / 1024:F0} MiB");
                rows = [.. rows.Select(r => r with { CheckpointKiB = Math.Max(r.CheckpointKiB, engineKiB), RestoreKiB = Math.Max(r.RestoreKiB, engineKiB) })];
            }
            double Median(Func<Row, double> f) => Statistics.Median.Of(rows, f);
            return new CliBenchResult(bytes, bos, Median(r => r.Checkpoint), Median(r => r.DdSave), Median(r => r.Pause), Median(r => r.CheckpointKiB) / 1024,
                Median(r => r.Restore), Median(r => r.DdLoad), Median(r => r.RestoreKiB) / 1024, Median(r => r.ReadsPerByte),
                checkpointOnly ? 0 : Median(r => r.DdSave / r.Checkpoint), checkpointOnly ? 0 : Median(r => r.DdLoad / r.Restore),
                Median(r => r.Checkpoint + r.Restore));
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
            try { Directory.Delete(shm, true); } catch (IOException) { }
        }
    }

    private sealed record Row(double Checkpoint, double DdSave, double Pause, double CheckpointKiB, double Restore, double DdLoad, double RestoreKiB, double ReadsPerByte);

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

    private static Task<Timing> Gpuckpt(string dll, IReadOnlyList<string> args) => Command(dll, args) is [var command, .. var rest] ? Timed(command, rest) : throw new ArgumentException("no command");

    /// <summary>A gpuckpt.dll runs under dotnet; an apphost (the published `gpuckpt`) runs as it is.</summary>
    internal static string[] Command(string dll, IReadOnlyList<string> args) => dll.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", dll, .. args] : [dll, .. args];

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
