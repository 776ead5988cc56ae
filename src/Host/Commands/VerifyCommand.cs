using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class VerifyCommand
{
    public static Command Create()
    {
        var command = new Command("verify", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: verify is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
