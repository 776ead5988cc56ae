using System.CommandLine;

namespace Gpuckpt.Load.Commands;

/// <summary>`gpuckpt-load jobs`: checkpoint → restore → compare jobs, several at a time, against one engine.</summary>
public static class JobsCommand
{
    public static Command Create()
    {
        var jobs = LoadCli.Int("--jobs", "jobs in all", 40, 1, 100_000);
        var concurrency = LoadCli.Int("--concurrency", "jobs at a time", 4, 1, 256);
        var size = LoadCli.Bytes("--size", "BO bytes of each job's train workload", 2UL << 20);
        var command = new Command("jobs", "checkpoint → restore → compare jobs against one engine (latency percentiles, jobs/s)") { jobs, concurrency, size };
        command.SetAction(parse => JobsLoad.Run(parse.GetValue(jobs), parse.GetValue(concurrency), parse.GetValue(size)));
        return command;
    }
}
