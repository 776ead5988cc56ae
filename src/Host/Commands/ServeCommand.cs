using System.CommandLine;
using System.Runtime.InteropServices;
using Gpuckpt.Actors;
using Gpuckpt.Engine.Images;
using Gpuckpt.Host.Resident;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt serve`: the resident engine of a state directory, until SIGTERM or SIGINT.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var command = new Command("serve",
            "keep an engine running for this state directory: checkpoint and restore with the same driver and journal run their jobs in it instead of starting one each")
        {
            driver, json,
        };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var stateDir = engineOptions.StateDirOf(parse);
            // Its journal and key serve every command that finds it: nobody else may be able to replace them.
            Engine.Trust.PrivateDirectory.RefuseWritableByOthers(stateDir, "resident engine's state directory");
            var config = engineOptions.Load(parse);
            var asJson = parse.GetValue(json);
            using var gpu = Drivers.Open(parse.GetValue(driver)!);
            var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            await using var engine = EngineHost.Start(gpu, config, "gpuckpt-serve");
            var resident = ResidentEngine.Start(engine, gpu, parse.GetValue(driver)!, parse.GetValue(engineOptions.Journal)!, stateDir, config,
                line => Console.Error.WriteLine($"gpuckpt: {line}"));
            await using (resident)
            {
                // Serving is said once the hashes' optimised code is in place, so that the first job does not pay for it.
                var warm = HashWarmUp.Run(HashWarmUp.Quiet, HashWarmUp.Limit);
                if (asJson)
                    Cli.PrintJson(new
                    {
                        socket = resident.SocketPath, driver = gpu.Name, state_dir = stateDir, pid = Environment.ProcessId,
                        warm_up_seconds = Math.Round(warm.Took.TotalSeconds, 2), state = "serving",
                    });
                else Console.Out.WriteLine($"serving checkpoint and restore for {gpu.Name} at {resident.SocketPath} (pid {Environment.ProcessId})");
                Console.Out.Flush();
                var signal = await stop.Task;
                if (!asJson) Console.Out.WriteLine($"{signal}: stopping; jobs still running are interrupted and their commands told");
            }
            if (asJson) Cli.PrintJson(new { socket = resident.SocketPath, state = "stopped" });
            else Console.Out.WriteLine("stopped");
            return Cli.ExitOk;

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.TrySetResult(context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT");
            }
        }));
        return command;
    }
}
