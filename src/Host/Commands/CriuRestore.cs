using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// <c>gpuckpt restore --criu</c>: verifies the whole-process image, then runs <c>criu restore</c> with the bridge loaded
/// (the restored tree is detached and runs on with its original pids).
/// </summary>
internal static class CriuRestore
{
    public static async Task<int> RunAsync(string images, bool shellJob, bool json)
    {
        var criu = CriuInstall.Require();
        var dir = Path.GetFullPath(images);
        if (!Directory.Exists(dir)) throw new UsageException($"no image directory {dir}");
        if (!File.Exists(Path.Combine(dir, ProcessManifest.FileName)))
            throw new UsageException(File.Exists(Path.Combine(dir, ImageManifest.FileName))
                ? $"{dir} holds a GPU-only checkpoint (no {ProcessManifest.FileName}): restore it with `gpuckpt restore --driver sim:SOCKET --images {dir}`"
                : $"{dir} is no whole-process checkpoint: it has no {ProcessManifest.FileName} (make one with `gpuckpt checkpoint --criu`)");
        var verified = ProcessManifest.Verify(dir);
        if (!verified.Ok) throw new InvalidDataException($"{dir} does not verify, nothing was restored: {verified.Describe()}");
        var manifest = ProcessManifest.Load(dir);
        if (manifest.GpuImage is not null)
            throw new UsageException($"{dir} holds GPU state (pid {manifest.Pid}, image {manifest.GpuImageId}), nothing was restored: {BridgeSession.RestoreRefusal}");
        if (Directory.Exists($"/proc/{manifest.Pid}"))
            throw new UsageException($"pid {manifest.Pid} is in use, nothing was restored: CRIU restores the process under its own pid (end that process first)");

        var pidFile = Path.Combine(Path.GetTempPath(), $"gpuckpt-restore-{Guid.NewGuid():N}.pid");
        var log = Path.Combine(dir, "criu-restore.log");
        List<string> args = ["restore", "-D", dir, "--lib", criu.BridgeDir, "-o", log, "-v4", "-d", "--pidfile", pidFile];
        if (shellJob) args.Add("--shell-job");
        using var driver = new BridgeDriver();
        var session = new BridgeSession(driver, new NoCheckpoints(), dir, line =>
        {
            if (!json) Console.Error.WriteLine($"gpuckpt: {line}");
        });
        var refusals = new List<string>();
        try
        {
            var (rc, problem) = await CriuRun.RunAsync(criu, args, log, session.Serve, refusals).ConfigureAwait(false);
            if (rc != 0)
            {
                Console.Error.WriteLine($"gpuckpt: criu restore of {dir} failed (exit {rc}): {problem}" +
                                        (refusals.Count > 0 ? $"; bridge: {string.Join("; ", refusals)}" : "") + $" (log: {log})");
                return Cli.ExitFailed;
            }
            var pid = uint.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            if (json) Cli.PrintJson(new { pid, images = dir, criu_version = criu.Version.ToString() });
            else Console.Out.WriteLine($"restored {dir} with CRIU {criu.Version} as pid {pid}");
            return Cli.ExitOk;
        }
        finally
        {
            File.Delete(pidFile);
        }
    }

    /// <summary>A restore saves nothing: a CHECKPOINT_DEVICES here would be a bridge out of order.</summary>
    private sealed class NoCheckpoints : IBridgeCheckpoints
    {
        public Task<BridgeCheckpointOutcome> CheckpointAsync(uint pid, string imagesDir, CancellationToken cancel) =>
            Task.FromResult(new BridgeCheckpointOutcome(false, "a restore saves no GPU state"));
    }
}
