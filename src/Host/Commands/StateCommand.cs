using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class StateCommand
{
    public static Command Create()
    {
        var command = new Command("state", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: state is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
