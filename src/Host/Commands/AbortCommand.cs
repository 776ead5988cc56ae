using System.CommandLine;
using Akka.Actor;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt abort JOB`: ends an unfinished (interrupted, or left by a dead engine) job for good: a checkpoint unpauses
/// its process once if it paused it and removes its partial image; a restore removes the process it was building.
/// </summary>
public static class AbortCommand
{
    public static Command Create()
    {
        var job = new Argument<string>("job") { Description = "the job id (gpuckpt jobs lists them)" };
        var driver = new Option<string?>("--driver") { Description = "sim:SOCKET or kfd (default: the driver the job was started with)" };
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var command = new Command("abort", "end an unfinished job: unpause its process, remove its partial image or restored process") { job, driver, json };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var config = engineOptions.LoadExisting(parse);
            var target = await JobTargets.Find(config, parse.GetValue(job)!);
            if (!target.Unfinished) throw new UsageException($"job {target.JobId} {target.Ended}: there is nothing to abort");
            var spec = JobTargets.DriverOf(target, parse.GetValue(driver));
            using var held = JobLock.Take(engineOptions.StateDirOf(parse), target.JobId, JobLock.StopItFirst(target.JobId));
            using var gpu = JobTargets.Open(target, spec, out var gone);
            if (gpu is UnreachableDriver)
                throw new InvalidOperationException($"job {target.JobId} cannot be aborted: {gone}; `gpuckpt forget {target.JobId}` drops it from the journal");
            await using var engine = EngineHost.Start(gpu, config, "gpuckpt-abort");
            var reply = await engine.RunAsync(new ControlJob(target.JobId, JobControl.Abort), target.JobId);
            var asJson = parse.GetValue(json);
            switch (reply)
            {
                case CheckpointFailed { EndedBy: "aborted" } f:
                    var removed = !Directory.Exists(target.ImagesDir);
                    if (asJson) Cli.PrintJson(new { job_id = target.JobId, state = "aborted", pid = target.Pid, unpaused = f.Unpaused, image_removed = removed });
                    else
                        Console.Out.WriteLine($"aborted checkpoint job {target.JobId}: pid {target.Pid} " +
                                              (f.Unpaused ? "was unpaused" : "was not paused by it") +
                                              (removed ? $"; its partial image {target.ImagesDir} is removed" : $"; {target.ImagesDir} is left as it was (not this job's partial image)"));
                    return Cli.ExitOk;
                case RestoreFailed { EndedBy: "aborted" }:
                    if (asJson) Cli.PrintJson(new { job_id = target.JobId, state = "aborted", images = target.ImagesDir });
                    else Console.Out.WriteLine($"aborted restore job {target.JobId}: the process it was restoring from {target.ImagesDir} is removed");
                    return Cli.ExitOk;
                default:
                    return JobTargets.ReportOutcome(reply, asJson);
            }
        }));
        return command;
    }
}
