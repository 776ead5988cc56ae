using System.CommandLine;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt restore`: verify an image, map its GPUs, recreate the process's GPU state and resume it.</summary>
public static class RestoreCommand
{
    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var images = new Option<string>("--images") { Description = "the image directory", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "print the topology map and the stages without touching a device" };
        var job = new Option<string?>("--job") { Description = "job id (rest-…) to journal it under; `gpuckpt resume` continues it after a crash" };
        var json = Cli.JsonOption();
        var criu = CriuOptions.Criu("a whole-process image (gpuckpt checkpoint --criu), restored by CRIU with the bridge");
        var shellJob = CriuOptions.ShellJob();
        var inProcess = Resident.ResidentOptions.InProcess();
        driver.Required = false;
        var engineOptions = new EngineOptions();
        var trust = new TrustOptions();
        var command = new Command("restore", "restore an image into a new process on this machine's GPUs") { driver, images, dryRun, job, json, criu, shellJob, inProcess };
        engineOptions.AddTo(command);
        trust.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            if (CriuOptions.Check(parse, criu, driver, shellJob))
                return await CriuRestore.RunAsync(parse.GetValue(images)!, parse.GetValue(shellJob), parse.GetValue(json), trust.Apply(parse, engineOptions.Load(parse)));
            // A kfd restore is refused whatever the image: it can only run inside the restored process.
            if (!parse.GetValue(dryRun)) RefuseKfd(parse.GetValue(driver)!);
            var dir = Path.GetFullPath(parse.GetValue(images)!);
            if (!Directory.Exists(dir)) throw new UsageException($"{dir}: no such image directory");
            var asJson = parse.GetValue(json);
            var jobId = parse.GetValue(job);
            if (jobId is not null && !jobId.StartsWith(JobsActor.RestorePrefix, StringComparison.Ordinal))
                throw new UsageException($"a restore job id starts with {JobsActor.RestorePrefix}: {jobId}");
            // A resident engine checks images against its own key: a restore that names another trust runs here.
            if (!parse.GetValue(dryRun) && !parse.GetValue(inProcess) && !trust.Given(parse)
                && await Resident.ResidentOptions.TryRunAsync(parse, engineOptions, parse.GetValue(driver)!, Resident.ResidentRequest.Restore,
                    new System.Text.Json.Nodes.JsonObject { ["images"] = dir, ["job"] = jobId }, $"a restore from {dir}", asJson) is { } outcome)
                return outcome.Print(asJson);
            using var gpu = Drivers.Open(parse.GetValue(driver)!);
            var config = trust.Apply(parse, engineOptions.Load(parse));
            if (parse.GetValue(dryRun)) return DryRun(gpu, dir, asJson, EngineSettings.LoadTrust(config));
            await JobsCommand.RefuseFinished(config, jobId);
            jobId ??= JobsActor.NewId(JobsActor.RestorePrefix);
            using var held = JobLock.Take(engineOptions.StateDirOf(parse), jobId, JobLock.StopItFirst(jobId));
            StatusLine.Say(Cli.Interactive(asJson), $"starting engine for a restore from {dir}…");
            await using var engine = EngineHost.Start(gpu, config);
            StatusLine.Say(Cli.Interactive(asJson), "spawning device actors…");
            var interrupted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var interrupts = new Interrupts(signal => interrupted.TrySetResult(signal));
            var reply = await ProgressView.Run(engine.System, Cli.Interactive(asJson), "restore", async () =>
            {
                var restore = engine.RestoreAsync(new RestoreRequest(dir, jobId));
                return await Task.WhenAny(restore, interrupted.Task) == restore ? await restore : null;
            });
            if (reply is not null) return Outcome(reply).With("engine", "in-process").Print(asJson);
            // Stopped where it stands, as a killed engine would leave it: the journal knows the half-built process,
            // which `resume` reattaches (or discards and builds again) and `abort` removes.
            await engine.System.Terminate();
            return Cli.Error($"restore job {jobId} interrupted by {interrupts.Signal}: left resumable as it stood (nothing was resumed); " +
                             $"next: `gpuckpt resume {jobId}` finishes the restore, `gpuckpt abort {jobId}` removes the partially restored process",
                interrupts.ExitCode, new { job_id = jobId, images = dir, signal = interrupts.Signal, resumable = true });
        }));
        return command;
    }

    /// <summary>A real restore cannot run from outside the restored process: refused before anything is opened.</summary>
    internal static void RefuseKfd(string driver)
    {
        if (driver == "kfd") throw new UsageException($"restore --driver kfd is refused: {KfdDriver.RestoreRefusal}");
    }

    private static int DryRun(IGpuDriver gpu, string dir, bool json, Engine.Images.ImageTrust trust)
    {
        var plan = RestorePlan.Prepare(dir, gpu.Topology(), trust);
        var stages = plan.Stages();
        if (json)
            Cli.PrintJson(new
            {
                gpu_map = Cli.GpuMap(plan.Map.ByUserGpuId.OrderBy(kv => kv.Key).Select(kv => KeyValuePair.Create($"0x{kv.Key:x}", $"0x{kv.Value.GpuId:x}"))),
                stages = stages.Select(s => new { name = s.Name, detail = s.Detail }),
            });
        else
            foreach (var stage in stages)
                foreach (var line in Cli.Wrap($"{stage.Name,-16} ", stage.Detail, Cli.Width())) Console.Out.WriteLine(line);
        return Cli.ExitOk;
    }

    internal static int Report(IRestoreMessage reply, bool json) => Outcome(reply).Print(json);

    /// <summary>What a restore's answer prints, as JSON and as text, and its exit code.</summary>
    internal static CommandOutcome Outcome(IRestoreMessage reply) => reply switch
    {
        RestoreCompleted { Summary: var s } => CommandOutcome.Success(new
            {
                job_id = s.JobId, pid = s.Pid, images = s.ImagesDir, bytes = s.Bytes, bos = s.Bos, devices = s.Devices,
                render_passes = s.RenderPasses, seconds = s.Seconds, gb_per_s = s.GigabytesPerSecond, gpu_map = Cli.GpuMap(s.GpuMap),
                content_bytes_read = s.ContentBytesRead, metadata_bytes_read = s.MetadataBytesRead, reads_per_content_byte = s.ReadsPerContentByte,
                phases = Cli.Phases(s.Phases),
            },
            $"restored {s.ImagesDir} as pid {s.Pid}: {s.Bytes} bytes, {s.Bos} BOs, {s.RenderPasses} render pass(es), " +
            $"{s.Seconds:F2} s ({s.GigabytesPerSecond:F2} GB/s); GPUs {string.Join(", ", s.GpuMap.Select(kv => $"{kv.Key}→{kv.Value}"))}",
            $"  {Cli.DescribePhases(s.Phases, s.Bytes, "contents")}; content bytes read {s.ReadsPerContentByte:F2}× each"),
        RestoreJobUnknown u => CommandOutcome.Failure($"no job {u.JobId} in the journal", Cli.ExitBadInput, new { job_id = u.JobId }),
        RestoreFailed f => CommandOutcome.Failure($"restore of {f.ImagesDir} failed: {f.Reason}", Cli.ExitFailed, new { images = f.ImagesDir },
            TrustOptions.AdviceOn(f.Reason)),
        _ => throw new InvalidOperationException($"unexpected reply {reply}"),
    };
}
