using System.CommandLine;
using Akka.Configuration;
using Gpuckpt.Actors;
using Gpuckpt.Engine.Images;
using Spectre.Console;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// <c>gpuckpt verify DIR [--trust-key FILE | --allow-unsigned] [--json]</c>: re-reads every file and segment; exit 0 only
/// for a whole, committed image signed with this engine's key (or the one given) and unchanged since.
/// </summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "image directory" };
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var trustOptions = new TrustOptions();
        var command = new Command("verify", "check every file, length prefix, segment checksum, message and the signature of an image") { dir, json };
        command.Options.Add(engineOptions.StateDir);
        trustOptions.AddTo(command);
        command.SetAction(parse => Cli.Guard(() =>
        {
            // Checking signs nothing: the engine's key must already exist (it is made by the first checkpoint).
            var config = trustOptions.Apply(parse, ConfigurationFactory.ParseString("gpuckpt.images.sign = off").WithFallback(engineOptions.LoadWithoutJournal(parse)));
            return Run(parse.GetValue(dir)!, parse.GetValue(json), config);
        }));
        return command;
    }

    private static int Run(string dir, bool json, Config config)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"{dir}: no such image directory");
        // A whole-process image: CRIU's files and the GPU image beside them, under one manifest.
        if ((File.Exists(Path.Combine(dir, "inventory.img")) || File.Exists(Path.Combine(dir, "criu-dump.log"))) && !File.Exists(Path.Combine(dir, ProcessManifest.FileName)))
        {
            return Cli.Error($"{dir}: CRIU's files without {ProcessManifest.FileName}: the whole-process checkpoint did not complete");
        }
        VerifyResult result;
        ImageTrust? checkedWith = null;
        if (File.Exists(Path.Combine(dir, ProcessManifest.FileName))) result = ProcessManifest.Verify(dir);
        else
        {
            ImageTrust trust;
            try
            {
                trust = EngineSettings.LoadTrust(config);
            }
            catch (FileNotFoundException e)
            {
                return Cli.Error($"{e.Message}: this engine has signed no image to check {dir} against; {TrustOptions.Advice}");
            }
            checkedWith = trust.Key is null && !trust.Require ? null : trust;
            result = Cli.Interactive(json) ? WithProgress(dir, checkedWith) : ImageVerifier.Verify(dir, trust: checkedWith);
        }
        if (result.Ok && json) Cli.PrintJson(result);
        else if (result.Ok)
            Console.Out.WriteLine($"{dir}: ok: {result.FilesChecked} files, {result.SegmentsChecked} segments, {result.BytesChecked} bytes verified, "
                + (checkedWith?.Key is { } key ? $"signed with key {key.Id}" : "signature not checked"));
        if (result.Ok) return Cli.ExitOk;
        var code = Cli.Error(result.Describe(), Cli.ExitFailed, new { file = result.File, offset = result.Offset, reason = result.Reason });
        TrustOptions.AdviseOn(result.Reason);
        return code;
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
