using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class SpawnCommand
{
    public static Command Create()
    {
        var command = new Command("spawn", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: spawn is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
