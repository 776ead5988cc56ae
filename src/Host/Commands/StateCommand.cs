using System.CommandLine;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt state`: a simulated process's step, digest, phase and counters.</summary>
public static class StateCommand
{
    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var pid = new Option<uint>("--pid") { Description = "simulated process", Required = true };
        var json = Cli.JsonOption();
        var command = new Command("state", "show a simulated process's state and digest") { driver, pid, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            using var client = SimDriverOption.Open(parse.GetValue(driver)!, "state");
            var s = client.State(parse.GetValue(pid));
            if (parse.GetValue(json)) Cli.PrintJson(s);
            else
                Console.Out.WriteLine($"pid {s.Pid}: step {s.Step}, digest {s.Digest}, {(s.Running ? "running" : s.Paused ? "paused" : "not running")}, " +
                                      $"{s.Gpus} GPUs, {s.Bos} BOs, {s.Bytes} bytes; PROCESS_INFO {s.Counters.ProcessInfo}, UNPAUSE {s.Counters.Unpause}, RESTORE {s.Counters.Restore}, RESUME {s.Counters.Resume}");
            return Cli.ExitOk;
        }));
        return command;
    }
}
