using System.CommandLine;

namespace Gpuckpt.Load.Commands;

/// <summary>`gpuckpt-load bench`: the engine in process against a raw copy of the same BOs.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var size = LoadCli.Bytes("--size", "BO bytes of the train workload", 256UL << 20);
        var runs = LoadCli.Int("--runs", "runs; the median is reported", 3, 1, 1000);
        var command = new Command("bench", "engine checkpoint and restore in process against a raw copy of the same BOs (MB/s, ratio)") { size, runs };
        command.SetAction(parse => Bench.Run(parse.GetValue(size), parse.GetValue(runs)));
        return command;
    }
}
