using System.CommandLine;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Host.Commands;

/// <summary><c>gpuckpt abi [--json]</c>: the struct layouts, ioctl numbers and constants the engine speaks, under their C names.</summary>
public static class AbiCommand
{
    public static Command Create()
    {
        var json = Cli.JsonOption();
        var command = new Command("abi", "print the kernel structs, ioctl request numbers and constants the engine uses") { json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine(parse.GetValue(json) ? AbiCatalog.ToJson() : Table());
            return Cli.ExitOk;
        }));
        return command;
    }

    private static string Table()
    {
        var text = new System.Text.StringBuilder();
        foreach (var s in AbiCatalog.Structs)
        {
            text.AppendLine($"{s.CType}  size {s.Size}  ({s.Origin})");
            foreach (var f in s.Fields) text.AppendLine($"  {f.Offset,4}  {f.CName}");
        }
        text.AppendLine();
        text.AppendLine("ioctl requests");
        foreach (var v in AbiCatalog.Ioctls) text.AppendLine($"  0x{v.Value:x8}  {v.Name}  ({v.Origin})");
        text.AppendLine();
        text.AppendLine("constants");
        foreach (var v in AbiCatalog.Constants) text.AppendLine($"  0x{v.Value:x8}  {v.Name}");
        return text.ToString().TrimEnd();
    }
}
