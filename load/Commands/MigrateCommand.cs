using System.CommandLine;

namespace Gpuckpt.Load.Commands;

/// <summary>`gpuckpt-load migrate`: migrations between two local nodes against a raw TCP copy of the same image.</summary>
public static class MigrateCommand
{
    public static Command Create()
    {
        var size = LoadCli.Bytes("--size", "BO bytes of the train workload", 1UL << 30);
        var runs = LoadCli.Int("--runs", "migrations (with --live, pairs of moves) counted after a warm-up one; the median is reported", 1, 1, 100);
        var gpuckpt = new Option<string?>("--gpuckpt") { Description = "the gpuckpt (apphost or gpuckpt.dll) that runs the nodes and commands (default: the one beside this tool)" };
        var plain = new Option<bool>("--also-without-tls") { Description = "run the same migrations again with the cluster's TLS off, and print what TLS costs" };
        var live = new Option<bool>("--live")
        {
            Description = "a serve process stepping every millisecond, moved stop-and-copy and live (migrate --live) alternately: the pauses, and the live rounds",
        };
        var command = new Command("migrate", "migration a -> b between two gpuckpt nodes on 127.0.0.1 against a raw TCP copy of the same bytes") { size, runs, gpuckpt, plain, live };
        command.SetAction(parse => parse.GetValue(live)
            ? LiveMigrateLoad.Run(parse.GetValue(size), parse.GetValue(gpuckpt), parse.GetValue(runs))
            : MigrateLoad.Run(parse.GetValue(size), parse.GetValue(gpuckpt), parse.GetValue(runs), parse.GetValue(plain)));
        return command;
    }
}
