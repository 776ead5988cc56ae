using System.Globalization;
using System.Reflection.PortableExecutable;
using System.Text;

namespace Gpuckpt.Load;

/// <summary>
/// `gpuckpt-load all`: every speed goal of the engine in one run, each figure against its comparator timed in the same
/// run (<see cref="CliBench"/>, <see cref="MigrateLoad"/>, <see cref="LiveMigrateLoad"/>), as users run the command: checkpoints
/// and restores with the resident engine (`gpuckpt serve`) running their jobs, and a command's fixed cost both with it and
/// without it. Prints one table (goal, measured, met) and writes it as Markdown for the README when asked.
/// </summary>
public static class AllBench
{
    public static async Task<int> Run(AllBenchSettings s)
    {
        var gpuckpt = s.Gpuckpt ?? Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        if (!File.Exists(gpuckpt)) throw new FileNotFoundException($"{gpuckpt} not found: publish src/Host (dotnet publish src/Host -c Release -o DIR) and pass --gpuckpt DIR/gpuckpt.dll");
        Console.WriteLine($"gpuckpt: {gpuckpt} ({(IsReadyToRun(gpuckpt) ? "ReadyToRun, as published" : "not ReadyToRun: a build output, not the published command")})");
        var rows = new List<Row>();
        var same = true;
        var size = Size(s.Size);

        // What every command pays before and after its bytes (start, journal, first uses, exit): the part of the
        // 1 GiB ratios that does not grow with the image. With the resident engine a command pays its own start and
        // the engine's work; without it, an engine's start too.
        Console.Error.WriteLine("-- tiny: a command's fixed cost, with the resident engine and with its own");
        var tiny = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "tiny", 4UL << 20, 0, null, 7, Resident: true));
        rows.Add(new Row("a command's fixed cost: checkpoint, restore of tiny (4 MiB), resident engine", "report", $"{tiny.Checkpoint:F2} s, {tiny.Restore:F2} s", null,
            $"{tiny.Bytes:N0} bytes of BO contents; the checkpoint paused {tiny.Pause:F2} s"));
        var own = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "tiny", 4UL << 20, 0, null, 7));
        rows.Add(new Row("the same, each command starting its own engine (--in-process, or no `gpuckpt serve`)", "report", $"{own.Checkpoint:F2} s, {own.Restore:F2} s", null,
            $"the checkpoint paused {own.Pause:F2} s"));

        Console.Error.WriteLine($"-- train {size}: checkpoint and restore");
        var train = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "train", s.Size, 0, null, 7, Resident: true));
        rows.Add(Ratio($"checkpoint, train {size}: dd / gpuckpt", train.CheckpointRatio, 0.9, $"gpuckpt {train.Checkpoint:F2} s, dd {train.DdSave:F2} s; pause {train.Pause:F2} s"));
        rows.Add(Ratio($"restore, train {size}: dd / gpuckpt", train.RestoreRatio, 0.9, $"gpuckpt {train.Restore:F2} s, dd {train.DdLoad:F2} s"));

        // Packing (checkpoint --compress) is reported without a goal: what it gains on memory that packs (buffers in
        // part full, in part empty) and what it costs on memory that does not (the train workload's noise).
        Console.Error.WriteLine($"-- train {size}, --compress: on its noise, then partly filled, unpacked and packed");
        var noisePacked = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "train", s.Size, 0, null, 7, Resident: true, Compress: true));
        var sparse = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "train", s.Size, 0, null, 7, Resident: true, Sparse: true));
        var sparsePacked = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "train", s.Size, 0, null, 7, Resident: true, Compress: true, Sparse: true));
        rows.Add(new Row($"checkpoint --compress, train {size} partly filled (a quarter of each 64 KiB): dd / gpuckpt", "report", $"{sparsePacked.CheckpointRatio:F2}", null,
            $"unpacked {sparse.CheckpointRatio:F2}; gpuckpt {sparsePacked.Checkpoint:F2} s against {sparse.Checkpoint:F2} s unpacked; " +
            $"restore {sparsePacked.Restore:F2} s against {sparse.Restore:F2} s; peak RSS {sparsePacked.CheckpointMiB:F0} MiB"));
        rows.Add(new Row($"checkpoint --compress, train {size} (noise, nothing packs): dd / gpuckpt", "report", $"{noisePacked.CheckpointRatio:F2}", null,
            $"unpacked {train.CheckpointRatio:F2} above; gpuckpt {noisePacked.Checkpoint:F2} s against {train.Checkpoint:F2} s unpacked"));

        if (s.BigSpec is { } spec)
        {
            Console.Error.WriteLine($"-- {Path.GetFileName(spec)}: checkpoints beside dd, then one restore");
            var big = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 1, "train", 0, 0, spec, 7, Lean: true, Resident: true));
            var gib = big.Bytes / (double)(1L << 30);
            rows.Add(Ratio($"checkpoint, {gib:F0} GiB: dd / gpuckpt", big.CheckpointRatio, 0.9, $"gpuckpt {big.Checkpoint:F2} s, dd {big.DdSave:F2} s; {CountOfRuns.Describe(s.Runs)}, each beside its dd"));
            rows.Add(Ratio($"restore, {gib:F0} GiB: dd / gpuckpt", big.RestoreRatio, 0.9, $"gpuckpt {big.Restore:F2} s, dd {big.DdLoad:F2} s (one run, after the checkpoints)"));
            var rss = Math.Max(big.CheckpointMiB, big.RestoreMiB);
            rows.Add(new Row($"peak RSS, {gib:F0} GiB", "≤ 300 MiB", $"{rss:F0} MiB", rss <= 300,
                $"checkpoint {big.CheckpointMiB:F0} MiB, restore {big.RestoreMiB:F0} MiB (each the larger of the command and the resident engine)"));
        }

        Console.Error.WriteLine($"-- many-bos {s.Bos}: checkpoint and restore");
        var many = await CliBench.Measure(new CliBenchSettings(s.Runs, false, gpuckpt, 2, "many-bos", 0, s.Bos, null, 7, Resident: true));
        rows.Add(new Row($"{s.Bos:N0} BOs: checkpoint + restore", "≤ 8 s", $"{many.RoundTrip:F2} s", many.RoundTrip <= 8,
            $"checkpoint {many.Checkpoint:F2} s, restore {many.Restore:F2} s"));

        Console.Error.WriteLine($"-- migration, train {size}, stop-and-copy");
        var migrate = await MigrateLoad.Measure(s.Size, gpuckpt, s.MigrationRuns);
        same &= migrate.Same;
        rows.Add(Ratio($"migration, train {size}: gpuckpt / raw TCP", migrate.Ratio, 0.8,
            (migrate.RunRatios.Count > 1 ? $"runs {string.Join(", ", migrate.RunRatios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}; medians " : "") +
            $"{migrate.MigrateRate:F0} MB/s against {migrate.RawRate:F0} MB/s; pause {migrate.Pause:F2} s; the first migration after the nodes started " +
            $"(not counted): {migrate.FirstRatio:F2}, {migrate.FirstRate:F0} MB/s, pause {migrate.FirstPause:F2} s"));

        Console.Error.WriteLine($"-- live migration, serve {size}");
        var live = await LiveMigrateLoad.Measure(s.Size, gpuckpt, s.MigrationRuns);
        same &= live.Same;
        rows.Add(new Row($"live migration, serve {size}: pause", "≤ 1 s", $"{live.LivePause:F2} s", live.LivePause <= 1,
            $"rounds (bytes; the last paused): {live.Rounds}"));
        rows.Add(new Row($"live migration, serve {size}: pause / stop-and-copy's", "≤ 0.10", $"{live.Ratio:F2}", live.Ratio <= 0.10,
            $"stop-and-copy paused {live.StopPause:F2} s"));

        var table = Table(rows);
        Console.WriteLine(table);
        Console.WriteLine($"every migrated process went on like its twin: {same}");
        if (s.Markdown is { } file) await File.WriteAllTextAsync(file, table);
        return same ? 0 : 1;
    }

    private static string Size(ulong bytes) => bytes % (1UL << 30) == 0 ? $"{bytes >> 30} GiB" : $"{bytes >> 20} MiB";

    /// <param name="Met">Null for a figure reported without a goal.</param>
    private sealed record Row(string Measure, string Goal, string Measured, bool? Met, string Detail);

    private static Row Ratio(string measure, double ratio, double goal, string detail) =>
        new(measure, $"≥ {goal.ToString("0.0#", CultureInfo.InvariantCulture)}", ratio.ToString("F2", CultureInfo.InvariantCulture), ratio >= goal, detail);

    private static string Table(IEnumerable<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| measure | goal | measured | met | detail |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var r in rows) text.AppendLine($"| {r.Measure} | {r.Goal} | {r.Measured} | {r.Met switch { true => "yes", false => "no", null => "" }} | {r.Detail} |");
        return text.ToString();
    }

    /// <summary>Whether the assembly (or the one an apphost runs) carries precompiled code, as `dotnet publish` makes it.</summary>
    private static bool IsReadyToRun(string path)
    {
        var dll = path.EndsWith(".dll", StringComparison.Ordinal) ? path : path + ".dll";
        if (!File.Exists(dll)) return false;
        using var pe = new PEReader(File.OpenRead(dll));
        return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
    }
}
