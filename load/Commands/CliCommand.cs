using System.CommandLine;

namespace Gpuckpt.Load.Commands;

/// <summary>`gpuckpt-load cli`: `gpuckpt checkpoint` and `restore` as processes, each against dd of the same bytes.</summary>
public static class CliCommand
{
    public static Command Create()
    {
        var workload = new Option<string>("--workload") { Description = "simulated workload", DefaultValueFactory = _ => "train" };
        workload.AcceptOnlyFromAmong("train", "many-bos");
        var size = LoadCli.Bytes("--size", "BO bytes of the workload", 1UL << 30);
        var bos = LoadCli.Int("--bos", "BOs of the many-bos workload", 100_000, 1, 10_000_000);
        var spec = new Option<FileInfo>("--spec") { Description = "a workload spec file (JSON) instead of --workload" };
        spec.AcceptExistingOnly();
        var runs = LoadCli.Int("--runs", "counted runs after one warm-up round; the median is reported", 3, 1, 1000);
        var checkpointOnly = new Option<bool>("--checkpoint-only") { Description = "the checkpoint command alone (no dd, no restore), for images larger than memory could hold twice" };
        var gpuckpt = new Option<string?>("--gpuckpt") { Description = "the gpuckpt.dll to run (default: the one beside this tool)" };
        var gpus = LoadCli.Int("--gpus", "simulated GPUs", 2, 1, 16);
        var seed = new Option<ulong>("--seed") { Description = "workload seed", DefaultValueFactory = _ => 7 };
        var resident = new Option<bool>("--resident") { Description = "run `gpuckpt serve` on the bench's state directory first: the commands' jobs run in that resident engine" };
        var compress = new Option<bool>("--compress") { Description = "checkpoint with --compress (chunks packed with LZ4 where that pays)" };
        var lean = new Option<bool>("--lean") { Description = "checkpoint rounds beside dd, then one restore after the process has ended (an image too large for memory to hold its process twice); `all` measures its large image so" };
        var sparse = new Option<bool>("--sparse") { Description = "before the first round, make every BO the process may write a partly filled buffer: in each 64 KiB, a quarter of noise, then zeros" };
        var command = new Command("cli", "gpuckpt checkpoint and restore as users run them, each against dd of the same bytes in the same run")
        {
            workload, size, bos, spec, runs, checkpointOnly, gpuckpt, gpus, seed, resident, compress, sparse, lean,
        };
        command.SetAction(parse => CliBench.Run(new CliBenchSettings(parse.GetValue(runs), parse.GetValue(checkpointOnly), parse.GetValue(gpuckpt), parse.GetValue(gpus),
            parse.GetValue(workload)!, parse.GetValue(size), parse.GetValue(bos), parse.GetValue(spec)?.FullName, parse.GetValue(seed),
            Lean: parse.GetValue(lean), Resident: parse.GetValue(resident), Compress: parse.GetValue(compress), Sparse: parse.GetValue(sparse))));
        return command;
    }
}
