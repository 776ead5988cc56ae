using Gpuckpt.Actors;
using Gpuckpt.Actors.Bridge;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// <c>gpuckpt checkpoint --criu</c>: the whole process. CRIU saves the CPU side into the image directory and calls the
/// bridge at its device hooks; this engine saves the GPU side into the directory's gpu/ with its journalled job; then
/// one manifest (process.json) covers both, and is verified before the command says it is done.
/// </summary>
internal static class CriuCheckpoint
{
    public static async Task<int> RunAsync(uint pid, string images, bool leaveRunning, bool shellJob, bool json, Akka.Configuration.Config config)
    {
        var criu = CriuInstall.Require();
        if (!Directory.Exists($"/proc/{pid}")) throw new UsageException($"no process {pid}");
        if (SessionOf(pid) == 0)
            throw new InvalidOperationException($"pid {pid}'s session leader is in an outer pid namespace, and CRIU dumps a process only with its " +
                                                "session's leader in reach: start the job in a session of its own (setsid COMMAND)");
        var dir = Path.GetFullPath(images);
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new UsageException($"{dir} is not empty: a whole-process checkpoint needs an absent or empty directory");
        if (Engine.Images.ImageFiles.UnwritableDirectory(dir) is { } unwritable) throw new UsageException(unwritable);
        // The check leaves no directory it made; CRIU writes into one that exists.
        Directory.CreateDirectory(dir);

        using var driver = new BridgeDriver();
        await using var engine = EngineHost.Start(driver, config);
        var session = new BridgeSession(driver, new BridgeCheckpoints(engine, null), dir, line =>
        {
            if (!json) Console.Error.WriteLine($"gpuckpt: {line}");
        });
        var refusals = new List<string>();
        var log = Path.Combine(dir, "criu-dump.log");
        List<string> args = ["dump", "-t", $"{pid}", "-D", dir, "--lib", criu.BridgeDir, "-o", log, "-v4"];
        if (leaveRunning) args.Add("--leave-running");
        if (shellJob) args.Add("--shell-job");
        var (rc, problem) = await CriuRun.RunAsync(criu, args, log, session.Serve, refusals).ConfigureAwait(false);
        if (rc != 0)
        {
            return Cli.Error($"criu dump of pid {pid} failed (exit {rc}): {problem}" +
                             (refusals.Count > 0 ? $"; bridge: {string.Join("; ", refusals)}" : "") + $" (log: {log})", Cli.ExitFailed, new { pid, log });
        }
        var manifest = ProcessManifest.Write(dir, pid, criu.Version.ToString(), session.GpuCommitted ? BridgeSession.GpuDirectory : null);
        var verified = ProcessManifest.Verify(dir);
        if (!verified.Ok)
        {
            return Cli.Error($"the whole-process image of pid {pid} does not verify: {verified.Describe()}", Cli.ExitFailed,
                new { pid, file = verified.File, offset = verified.Offset });
        }
        if (json)
            Cli.PrintJson(new
            {
                pid, images = dir, criu_version = manifest.CriuVersion, criu_files = manifest.Files.Count, gpu = manifest.GpuImage is not null,
                gpu_image_id = manifest.GpuImageId, bytes = verified.BytesChecked, left_running = leaveRunning,
                hooks = session.Called.Select(h => h.ToString()).Distinct(),
            });
        else
            Console.Out.WriteLine($"checkpointed pid {pid} with CRIU {manifest.CriuVersion} into {dir}: {manifest.Files.Count} CRIU files" +
                                  (manifest.GpuImage is null ? ", no GPU state" : $", GPU image {manifest.GpuImageId} in {manifest.GpuImage}/") +
                                  $", {verified.BytesChecked} bytes verified; " + (leaveRunning ? "the process runs on" : "the process was ended by CRIU"));
        return Cli.ExitOk;
    }

    /// <summary>The session id of <paramref name="pid"/> as this pid namespace sees it (/proc/PID/stat's sixth field); 0 when its leader lies outside.</summary>
    private static long SessionOf(uint pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
