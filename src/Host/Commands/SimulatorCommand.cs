using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class SimulatorCommand
{
    public static Command Create()
    {
        var command = new Command("simulator", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: simulator is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
