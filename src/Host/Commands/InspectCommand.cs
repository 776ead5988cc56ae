using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class InspectCommand
{
    public static Command Create()
    {
        var command = new Command("inspect", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: inspect is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
