using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: demo is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
