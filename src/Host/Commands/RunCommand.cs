using System.CommandLine;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt run`: advances a simulated process's workload.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var pid = new Option<uint>("--pid") { Description = "simulated process", Required = true };
        var steps = new Option<ulong>("--steps") { Description = "steps to run", Required = true };
        var json = Cli.JsonOption();
        var command = new Command("run", "advance a simulated process's workload") { driver, pid, steps, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            using var client = SimDriverOption.Open(parse.GetValue(driver)!, "run");
            var p = parse.GetValue(pid);
            var step = client.Run(p, parse.GetValue(steps));
            if (parse.GetValue(json)) Cli.PrintJson(new { pid = p, step });
            else Console.Out.WriteLine($"pid {p} at step {step}");
            return Cli.ExitOk;
        }));
        return command;
    }
}
