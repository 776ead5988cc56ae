using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: run is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
