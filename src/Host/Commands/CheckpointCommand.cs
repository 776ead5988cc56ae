using System.CommandLine;
using Akka.Actor;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt checkpoint`: pause a process, save its GPU state to an image, commit it.</summary>
public static class CheckpointCommand
{
    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var pid = new Option<uint>("--pid") { Description = "the process to checkpoint", Required = true };
        var images = new Option<string>("--images") { Description = "directory for the image (absent or empty)", Required = true };
        var leaveRunning = new Option<bool>("--leave-running")
        {
            Description = "unpause the process once the image is committed (default: it stays paused, holding exactly the saved state)",
        };
        var parent = new Option<string?>("--parent")
        {
            Description = "an earlier image of the process: chunks equal to its own are referenced there, not written (restore and verify read the chain)",
        };
        var compress = new Option<bool>("--compress")
        {
            Description = "pack each chunk with LZ4 where that saves an eighth of it or more (image format 4: gpuckpt restores it, CRIU's amdgpu plugin cannot)",
        };
        var job = new Option<string?>("--job") { Description = "job id (ckpt-…) to journal it under; `gpuckpt resume` continues it after a crash" };
        var json = Cli.JsonOption();
        var criu = CriuOptions.Criu("the whole process: CRIU saves the CPU side, the engine the GPU side through the CRIU bridge");
        var shellJob = CriuOptions.ShellJob();
        var inProcess = Resident.ResidentOptions.InProcess();
        driver.Required = false;
        var engineOptions = new EngineOptions();
        var command = new Command("checkpoint", "save a process's GPU state (BOs, mappings, queues) to an image") { driver, pid, images, leaveRunning, parent, compress, job, json, criu, shellJob, inProcess };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var whole = CriuOptions.Check(parse, criu, driver, shellJob);
            var imagesDir = Path.GetFullPath(parse.GetValue(images)!);
            var parentDir = ParentOf(parse.GetValue(parent), imagesDir, whole);
            var packed = parse.GetValue(compress);
            if (whole && packed) throw new UsageException("--compress is for GPU images; a whole process (--criu) is saved unpacked, as CRIU's amdgpu plugin reads it");
            if (whole)
                return await CriuCheckpoint.RunAsync(parse.GetValue(pid), parse.GetValue(images)!, parse.GetValue(leaveRunning), parse.GetValue(shellJob),
                    parse.GetValue(json), engineOptions.Load(parse));
            if (Engine.Images.ImageFiles.UnwritableDirectory(imagesDir) is { } unwritable) throw new UsageException(unwritable);
            var asJson = parse.GetValue(json);
            var given = JobId(parse.GetValue(job));
            if (!parse.GetValue(inProcess))
            {
                var arguments = new System.Text.Json.Nodes.JsonObject
                {
                    ["pid"] = parse.GetValue(pid), ["images"] = imagesDir, ["leave_running"] = parse.GetValue(leaveRunning), ["parent"] = parentDir, ["job"] = given,
                    ["compress"] = packed,
                };
                if (await Resident.ResidentOptions.TryRunAsync(parse, engineOptions, parse.GetValue(driver)!, Resident.ResidentRequest.Checkpoint, arguments,
                        $"a checkpoint of pid {parse.GetValue(pid)}", asJson) is { } outcome)
                    return outcome.Print(asJson);
            }
            return await InProcess(parse, engineOptions, parse.GetValue(driver)!, parse.GetValue(pid), imagesDir, parse.GetValue(leaveRunning), parentDir, packed, given, asJson);
        }));
        return command;
    }

    /// <summary>The checkpoint run by an engine started in this process for it.</summary>
    private static async Task<int> InProcess(System.CommandLine.ParseResult parse, EngineOptions engineOptions, string driverSpec, uint pid, string imagesDir,
        bool leaveRunning, string? parentDir, bool packed, string? given, bool asJson)
    {
        using var gpu = Drivers.Open(driverSpec);
        // A missing or unreachable target is refused before a job, an image or a pause exists.
        using (gpu.OpenKfd(pid)) { }
        var config = engineOptions.Load(parse);
        await JobsCommand.RefuseFinished(config, given);
        // The id is chosen here, so that an interrupt can name the job it stops.
        var request = new CheckpointRequest(pid, imagesDir, leaveRunning, given ?? JobsActor.NewId(JobsActor.CheckpointPrefix), Parent: parentDir);
        using var held = JobLock.Take(engineOptions.StateDirOf(parse), request.JobId!, JobLock.StopItFirst(request.JobId!));
        // Two checkpoints of one process meet here, before the journal: the second names the first.
        using var claimed = Engine.Checkpoint.ProcessLock.Take(driverSpec, request.Pid, request.JobId!, HolderWait(config));
        StatusLine.Say(Cli.Interactive(asJson), $"starting engine for a checkpoint of pid {request.Pid}…");
        await using var engine = EngineHost.Start(gpu, config);
        StatusLine.Say(Cli.Interactive(asJson), $"spawning device actors for pid {request.Pid}…");
        using var interrupts = new Interrupts(signal => engine.Jobs.Tell(new InterruptJob(request.JobId!, signal)));
        var reply = await ProgressView.Run(engine.System, Cli.Interactive(asJson), "checkpoint",
            () => engine.CheckpointAsync(request, pack: packed));
        return Outcome(reply).With("engine", "in-process").Print(asJson);
    }

    /// <summary>
    /// The --parent path as the image records it: absolute as given, or relative to the new image's directory (so that a
    /// resumed job and a restore from elsewhere find it). A parent that is missing or not a committed image is bad input,
    /// refused before anything is paused.
    /// </summary>
    private static string? ParentOf(string? given, string imagesDir, bool whole)
    {
        if (given is null) return null;
        if (whole) throw new UsageException("--parent goes with --driver: a whole-process image through CRIU is always complete");
        var path = Path.IsPathRooted(given) ? given : Path.GetRelativePath(imagesDir, Path.GetFullPath(given));
        try
        {
            ParentImage.Identify(path, imagesDir);
        }
        catch (ImageException e)
        {
            throw new UsageException($"--parent {given}: {e.Message}");
        }
        return path;
    }

    internal static TimeSpan HolderWait(Akka.Configuration.Config config) =>
        config.GetTimeSpan("gpuckpt.cli.process-lock-holder-wait", TimeSpan.FromSeconds(1), allowInfinite: false);

    private static string? JobId(string? job) =>
        job is null || job.StartsWith(JobsActor.CheckpointPrefix, StringComparison.Ordinal) ? job
        : throw new UsageException($"a checkpoint job id starts with {JobsActor.CheckpointPrefix}: {job}");

    internal static int Report(ICheckpointMessage reply, bool json) => Outcome(reply).Print(json);

    /// <summary>What a checkpoint's answer prints, as JSON and as text, and its exit code.</summary>
    internal static CommandOutcome Outcome(ICheckpointMessage reply)
    {
        switch (reply)
        {
            case CheckpointCompleted { Summary: var s }:
                // Devices are the job's device actors (a GPU's KFD device and its render nodes); a person counts GPUs.
                var gpus = ManifestCodec.Load(s.ImagesDir).Topology.Count;
                var lines = new List<string>
                {
                    $"checkpointed pid {s.Pid} into {s.ImagesDir}: {s.Bytes} bytes, {s.Bos} BOs on {gpus} GPU{(gpus == 1 ? "" : "s")}, " +
                    $"{s.Seconds:F2} s ({s.GigabytesPerSecond:F2} GB/s); " +
                    (s.LeftPaused ? "the process stays paused" : $"paused {s.PauseSeconds:F2} s, running again"),
                };
                if (s.ReferencedBytes > 0) lines.Add($"  incremental: {s.WrittenBytes} bytes written, {s.ReferencedBytes} referenced in the parent image");
                lines.Add($"  {Cli.DescribePhases(s.Phases, s.Bytes, "copy")}");
                return CommandOutcome.Success(new
                {
                    job_id = s.JobId, pid = s.Pid, images = s.ImagesDir, image_id = s.ImageId, bytes = s.Bytes, bos = s.Bos, gpus, devices = s.Devices,
                    written_bytes = s.WrittenBytes, referenced_bytes = s.ReferencedBytes,
                    seconds = s.Seconds, recovery_seconds = s.RecoverySeconds, pause_seconds = s.PauseSeconds, gb_per_s = s.GigabytesPerSecond, left_paused = s.LeftPaused,
                    phases = Cli.Phases(s.Phases),
                }, [.. lines]);
            case JobUnknown u:
                return CommandOutcome.Failure($"no job {u.JobId} in the journal", Cli.ExitBadInput, new { job_id = u.JobId });
            case CheckpointFailed f:
                return CommandOutcome.Failure($"checkpoint of pid {f.Pid} failed: {f.Reason}{(f.Unpaused ? " (the process was unpaused)" : "")}",
                    Cli.ExitFailed, new { pid = f.Pid, unpaused = f.Unpaused });
            case CheckpointInterruptedReply i:
                return CommandOutcome.Failure($"checkpoint job {i.JobId} interrupted by {i.Signal}: " +
                                              (i.Unpaused ? $"pid {i.Pid} was unpaused and runs again" : $"pid {i.Pid} had not been paused") +
                                              $", no image was kept; next: `gpuckpt resume {i.JobId}` checkpoints it again, `gpuckpt abort {i.JobId}` ends the job",
                    i.Signal == "SIGTERM" ? Cli.ExitTerminated : Cli.ExitInterrupted,
                    new { job_id = i.JobId, pid = i.Pid, signal = i.Signal, unpaused = i.Unpaused });
            default:
                throw new InvalidOperationException($"unexpected reply {reply}");
        }
    }
}
