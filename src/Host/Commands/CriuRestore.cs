using Gpuckpt.Actors;
using Gpuckpt.Actors.Bridge;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// <c>gpuckpt restore --criu</c>: verifies the whole-process image, then runs <c>criu restore</c> with the bridge loaded
/// (the restored tree is detached and runs on with its original pids). GPU state is rebuilt inside the restored task by
/// this engine's journalled restore job, held short of RESUME until CRIU's RESUME_DEVICES_LATE.
/// </summary>
internal static class CriuRestore
{
    public static async Task<int> RunAsync(string images, bool shellJob, bool json, Akka.Configuration.Config config)
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
        if (manifest.GpuImage is not null && BridgeGpuFiles.Load(dir).Count == 0)
            throw new UsageException($"{dir} holds GPU state (pid {manifest.Pid}) but no {BridgeGpuFiles.FileName}: CRIU's file ids of its GPU files are unknown, nothing was restored (checkpoint it again with this gpuckpt)");
        if (Directory.Exists($"/proc/{manifest.Pid}"))
            throw new UsageException($"pid {manifest.Pid} is in use, nothing was restored: CRIU restores the process under its own pid (end that process first)");

        var pidFile = Path.Combine(Path.GetTempPath(), $"gpuckpt-restore-{Guid.NewGuid():N}.pid");
        var log = Path.Combine(dir, "criu-restore.log");
        List<string> args = ["restore", "-D", dir, "--lib", criu.BridgeDir, "-o", log, "-v4", "-d", "--pidfile", pidFile];
        if (shellJob) args.Add("--shell-job");
        using var driver = new BridgeRestoreDriver();
        await using var engine = EngineHost.Start(driver, config);
        var session = new BridgeRestoreSession(driver, new BridgeRestores(engine), dir, line =>
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
            if (session.HasGpuState && !session.Resumed)
            {
                // CRIU 4.2 lets the tasks run even when RESUME_DEVICES_LATE fails: a process whose GPU never resumed is ended.
                var ended = EndProcess(pid);
                Console.Error.WriteLine($"gpuckpt: criu restore of {dir} brought pid {pid} back without its GPU resumed: " +
                                        $"{session.Failure ?? "CRIU never called RESUME_DEVICES_LATE for it"}; {ended} (log: {log})");
                return Cli.ExitFailed;
            }
            if (json) Cli.PrintJson(new { pid, images = dir, criu_version = criu.Version.ToString(), gpu = session.Resumed, hooks = session.Called.Select(h => h.ToString()).Distinct() });
            else Console.Out.WriteLine($"restored {dir} with CRIU {criu.Version} as pid {pid}" + (session.Resumed ? ", its GPU state rebuilt in the process and resumed" : ", no GPU state"));
            return Cli.ExitOk;
        }
        finally
        {
            File.Delete(pidFile);
        }
    }

    private static string EndProcess(uint pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById((int)pid);
            process.Kill();
            return $"pid {pid} was ended";
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return $"ending pid {pid} failed ({e.Message}): end it by hand";
        }
    }
}
