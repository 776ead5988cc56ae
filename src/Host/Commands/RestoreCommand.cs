using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class RestoreCommand
{
    public static Command Create()
    {
        var command = new Command("restore", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: restore is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
