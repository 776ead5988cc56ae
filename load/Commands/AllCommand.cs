using System.CommandLine;

namespace Gpuckpt.Load.Commands;

/// <summary>`gpuckpt-load all`: every speed goal in one run, each against its comparator, as one table.</summary>
public static class AllCommand
{
    public static Command Create()
    {
        var gpuckpt = new Option<string?>("--gpuckpt") { Description = "the published gpuckpt.dll to run (dotnet publish src/Host -c Release -o DIR; default: the one beside this tool)" };
        var size = LoadCli.Bytes("--size", "BO bytes of train and serve (the goals are set at 1 GiB)", 1UL << 30);
        var runs = LoadCli.Int("--runs", "counted runs of the 1 GiB, 8 GiB checkpoint and many-BO measures; the median is reported", 3, 1, 100);
        var migrationRuns = LoadCli.Int("--migration-runs", "migrations of each kind, counted after a warm-up one; the median is reported", 3, 1, 100);
        var big = new Option<FileInfo?>("--big-spec")
        {
            Description = "the large image's workload spec (default: specs/one-4gib-bo-in-8gib.json beside this tool; needs about 17 GiB of memory)",
            DefaultValueFactory = _ => new FileInfo(Path.Combine(AppContext.BaseDirectory, "specs", "one-4gib-bo-in-8gib.json")),
        };
        var noBig = new Option<bool>("--without-big") { Description = "leave out the large image (a machine with less memory)" };
        var bos = LoadCli.Int("--bos", "BOs of the many-bos measure", 100_000, 1, 10_000_000);
        var markdown = new Option<string?>("--markdown") { Description = "also write the table to this file (Markdown)" };
        var command = new Command("all", "every speed goal in one run, each against its comparator timed in the same run: checkpoint and restore at 1 GiB and at 8 GiB, peak RSS, 100 000 BOs, migration, live migration")
        {
            gpuckpt, size, runs, migrationRuns, big, noBig, bos, markdown,
        };
        command.SetAction(parse =>
        {
            var spec = parse.GetValue(noBig) ? null : parse.GetValue(big);
            if (spec is { Exists: false }) throw new FileNotFoundException($"{spec.FullName} not found: pass --big-spec FILE or --without-big");
            return AllBench.Run(new AllBenchSettings(parse.GetValue(gpuckpt), parse.GetValue(size), parse.GetValue(runs), parse.GetValue(migrationRuns), spec?.FullName,
                parse.GetValue(bos), parse.GetValue(markdown)));
        });
        return command;
    }
}
