using System.CommandLine;
using System.Globalization;
using Gpuckpt.Engine.Images;
using Spectre.Console;

namespace Gpuckpt.Host.Commands;

/// <summary><c>gpuckpt inspect DIR [--json]</c>: what an image holds (devices, BOs, mappings, imports, files, state).</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "image directory" };
        var json = Cli.JsonOption();
        var command = new Command("inspect", "show what an image holds: devices, BOs, mappings, imports, files and state") { dir, json };
        command.SetAction(parse => Cli.Guard(() => Run(parse.GetValue(dir)!, parse.GetValue(json))));
        return command;
    }

    private static int Run(string dir, bool json)
    {
        ImageInspection image;
        try
        {
            image = ImageInspector.Inspect(dir);
        }
        catch (ImageException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        // The manifest's extra map is keyed by its own names ("chunk-size"): as JSON it is a list of name and value.
        if (json) Cli.PrintJson(Cli.WithList(image, "extra", image.Extra.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new { name = e.Key, value = e.Value })));
        else Render(image, Console());
        return Cli.ExitOk;
    }

    /// <summary>Colours and the terminal's width on a terminal; plain text, wide enough for the tables, when redirected.</summary>
    private static IAnsiConsole Console()
    {
        var redirected = System.Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(System.Console.Out),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        });
        if (redirected) console.Profile.Width = 200;
        return console;
    }

    public static void Render(ImageInspection image, IAnsiConsole console)
    {
        var state = image.State switch { "committed" => "[green]committed[/]", "in-progress" => "[yellow]in-progress[/]", _ => "[red]failed[/]" };
        var head = new Grid().AddColumn().AddColumn();
        head.AddRow("image", Markup.Escape($"{image.ImageId}  ({image.Directory})"));
        head.AddRow("state", state + (image.FailureReason is { } why ? Markup.Escape($": {why}") : ""));
        head.AddRow("source", Markup.Escape($"pid {image.Source.Pid} via {image.Source.Driver}{(image.Source.Host is { } h ? $" on {h}" : "")}"));
        head.AddRow("created", Markup.Escape($"{image.Created:u}{(image.Finished is { } fin ? $", finished {fin:u}" : "")}"));
        head.AddRow("format", Markup.Escape($"v{image.FormatVersion}, written by gpuckpt {image.ToolVersion}"));
        if (image.Parent is { } parent)
            head.AddRow("parent", Markup.Escape($"{parent.ImageId}  ({parent.Path}): {image.ReferencedBytes} bytes of contents read there"));
        if (image.PackedBytes > 0)
            head.AddRow("packed", Markup.Escape($"{Bytes((ulong)image.PackedBytes)} of contents held in {Bytes((ulong)image.PackedStoredBytes)} of LZ4 blocks"));
        var renderBos = image.RenderNodes.SelectMany(n => n.Bos).ToList();
        var imports = renderBos.Count(b => b.IsImport);
        head.AddRow("totals", Markup.Escape($"{image.Devices.Count} GPU(s), {image.KfdBos.Count} KFD BOs, {renderBos.Count} render-node BOs " +
                                            $"({imports} of them imports), {Bytes(image.Devices.Aggregate(0UL, (sum, d) => sum + d.ContentBytes))} of contents"));
        console.Write(head);

        var devices = Table("GPUs", "gpu_id", "node", "vendor:device", "render", "hive", "simds", "vram", "kfd BOs", "contents", "pages file");
        foreach (var d in image.Devices)
            devices.AddRow(Hex4(d.GpuId), Num(d.NodeId), $"{d.VendorId:x4}:{d.DeviceId:x4}", $"renderD{d.RenderMinor}", $"0x{d.HiveId:x}",
                Num(d.SimdCount), Bytes(d.VramSize), Num(d.KfdBos), Bytes(d.ContentBytes), Markup.Escape(d.PagesFile ?? "-"));
        console.Write(devices);

        var bos = Table("KFD BOs", "#", "gpu_id", "domain", "addr", "size", "handle", "flags", "pages offset");
        foreach (var b in image.KfdBos)
            bos.AddRow(Num(b.Index), Hex4(b.GpuId), b.Domain, $"0x{b.Addr:x}", Bytes(b.Size), Handle(b.Handle), $"0x{b.AllocFlags:x8}",
                b.PagesOffset is { } o ? Num(o) : "-");
        console.Write(bos);

        foreach (var node in image.RenderNodes)
        {
            var t = Table($"render node {node.Id}: renderD{node.Minor}, gpu {node.GpuId:x4} ({node.File})",
                "#", "handle", "domains", "addr", "size", "mappings (addr+size)", "contents");
            foreach (var b in node.Bos)
                t.AddRow(Num(b.Index), Num(b.Handle), b.Domains, $"0x{b.Addr:x}", Bytes(b.Size),
                    Markup.Escape(b.Mappings.Count == 0 ? "-" : string.Join("\n", b.Mappings.Select(m => $"0x{m.Addr:x}+{Bytes(m.Size)}"))),
                    Markup.Escape(b.IsImport ? $"import from {b.ImportedFrom ?? "(no link recorded)"}" : b.PagesFile ?? "-"));
            console.Write(t);
        }

        if (image.Dmabufs.Count > 0)
        {
            var t = Table("dmabuf fds", "id", "gem handle", "file");
            foreach (var d in image.Dmabufs) t.AddRow(Num(d.Id), Num(d.GemHandle), Markup.Escape(d.File));
            console.Write(t);
        }

        var files = Table("files", "name", "kind", "size", "segments", "present");
        foreach (var f in image.Files)
            files.AddRow(Markup.Escape(f.Name), f.Kind, Bytes((ulong)f.Size), Num(f.Segments), f.Present ? "yes" : "[red]MISSING[/]");
        console.Write(files);

        foreach (var p in image.Problems) console.MarkupLine($"[red]problem:[/] {Markup.Escape(p)}");
    }

    private static Table Table(string title, params string[] columns)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape(title)), Border = TableBorder.Rounded };
        foreach (var c in columns) table.AddColumn(new TableColumn(Markup.Escape(c)));
        return table;
    }

    private static string Num<T>(T n) where T : IFormattable => n.ToString(null, CultureInfo.InvariantCulture);

    /// <summary>A KFD BO's render handle; the capture records 0xFFFFFFFF when no render file holds the BO.</summary>
    private static string Handle(uint handle) => handle == Engine.Checkpoint.CaptureMessages.NoHandle ? "none" : Num(handle);

    private static string Hex4(uint n) => n.ToString("x4", CultureInfo.InvariantCulture);

    /// <summary>Exact bytes for small sizes, binary units with two decimals for large ones.</summary>
    public static string Bytes(ulong n)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var i = 0;
        var v = (double)n;
        while (v >= 1024 && i < units.Length - 1)
        {
            v /= 1024;
            i++;
        }
        return i == 0 ? $"{n} B" : v.ToString("0.##", CultureInfo.InvariantCulture) + " " + units[i];
    }
}
