using System.CommandLine;

namespace Gpuckpt.Host.Commands;

public static class AbiCommand
{
    public static Command Create()
    {
        var command = new Command("abi", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("gpuckpt: abi is not built yet"); return Cli.ExitFailed; });
        return command;
    }
}
