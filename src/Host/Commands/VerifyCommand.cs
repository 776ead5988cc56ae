using System.CommandLine;
using Gpuckpt.Engine.Images;
using Spectre.Console;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// <c>gpuckpt verify DIR [--key FILE] [--json]</c>: re-reads every file and segment; exit 0 only for a whole, committed
/// image (and, with --key, one signed with that key and unchanged since).
/// </summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "image directory" };
        var json = Cli.JsonOption();
        var key = new Option<string?>("--key") { Description = "node key file (0600): the image must be signed with it and unchanged since" };
        var command = new Command("verify", "check every file, length prefix, segment checksum and message of an image") { dir, key, json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var trust = parse.GetValue(key) is { } file ? new ImageTrust(ImageKey.Load(file), Sign: false, Require: true) : null;
            return Run(parse.GetValue(dir)!, parse.GetValue(json), trust);
        }));
        return command;
    }

    private static int Run(string dir, bool json, ImageTrust? trust)
    {
        // A whole-process image: CRIU's files and the GPU image beside them, under one manifest.
        if ((File.Exists(Path.Combine(dir, "inventory.img")) || File.Exists(Path.Combine(dir, "criu-dump.log"))) && !File.Exists(Path.Combine(dir, ProcessManifest.FileName)))
        {
            Console.Error.WriteLine($"gpuckpt: {dir}: CRIU's files without {ProcessManifest.FileName}: the whole-process checkpoint did not complete");
            return Cli.ExitFailed;
        }
        var result = File.Exists(Path.Combine(dir, ProcessManifest.FileName)) ? ProcessManifest.Verify(dir)
            : Cli.Interactive(json) ? WithProgress(dir, trust) : ImageVerifier.Verify(dir, trust: trust);
        if (json) Cli.PrintJson(result);
        else if (result.Ok)
            Console.Out.WriteLine($"{dir}: ok: {result.FilesChecked} files, {result.SegmentsChecked} segments, {result.BytesChecked} bytes verified");
        if (result.Ok) return Cli.ExitOk;
        Console.Error.WriteLine($"gpuckpt: {result.Describe()}");
        return Cli.ExitFailed;
    }

    private static VerifyResult WithProgress(string dir, ImageTrust? trust) =>
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask("verifying", maxValue: 1);
            return ImageVerifier.Verify(dir, new InlineProgress(p =>
            {
                task.MaxValue = Math.Max(1, p.Total);
                task.Value = p.Done;
            }), trust: trust);
        });

    /// <summary>Reports on the verifying thread, in order (Progress&lt;T&gt; would post them to the pool, out of order).</summary>
    private sealed class InlineProgress(Action<(long Done, long Total)> report) : IProgress<(long Done, long Total)>
    {
        public void Report((long Done, long Total) value) => report(value);
    }
}
