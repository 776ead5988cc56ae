using System.CommandLine;
using Gpuckpt.Simulator;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt spawn`: starts a simulated GPU process running a deterministic workload.</summary>
public static class SpawnCommand
{
    private const ulong MinSize = 4096, MaxSize = 1UL << 48;
    private const int MaxBos = 10_000_000;

    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var workload = new Option<string?>("--workload") { Description = "tiny, train, many-bos or serve" };
        var spec = new Option<string?>("--spec") { Description = "workload spec JSON file (instead of --workload)" };
        var seed = new Option<ulong>("--seed") { Description = "seed of sizes, contents and links", Required = true };
        var size = ByteSizeOption.Create("--size", "total BO memory to aim for (train holds it within 1% from 64M up)");
        var bos = new Option<int?>("--bos") { Description = "number of BOs (many-bos)" };
        var json = Cli.JsonOption();
        var command = new Command("spawn", "start a simulated GPU process") { driver, workload, spec, seed, size, bos, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var name = parse.GetValue(workload);
            var specPath = parse.GetValue(spec);
            if ((name is null) == (specPath is null)) throw new UsageException("give exactly one of --workload NAME and --spec FILE");
            if (parse.GetValue(size) is { } bytes and (< MinSize or > MaxSize))
                throw new UsageException($"--size {bytes}: between {MinSize} (one page) and {MaxSize} bytes (2^48, more than any GPU holds)");
            if (parse.GetValue(bos) is { } count and (< 1 or > MaxBos))
                throw new UsageException($"--bos {count}: between 1 and {MaxBos}");
            using var client = SimDriverOption.Open(parse.GetValue(driver)!, "spawn");
            var request = specPath is null
                ? WorkloadRequest.Named(name!, parse.GetValue(seed), parse.GetValue(size), parse.GetValue(bos))
                : WorkloadRequest.FromSpecFile(specPath, parse.GetValue(seed));
            var pid = client.Spawn(request);
            if (parse.GetValue(json)) Cli.PrintJson(new { pid });
            else Console.Out.WriteLine($"spawned pid {pid}");
            return Cli.ExitOk;
        }));
        return command;
    }
}
