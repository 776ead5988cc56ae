using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class CheckpointCommand
{
    public static Command Create()
    {
        var command = new Command("checkpoint", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: checkpoint is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
