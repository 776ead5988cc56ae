using System.CommandLine;
using Akka.Actor;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt forget JOB`: ends an unfinished job whose process or device is gone, touching neither a device nor an image,
/// after saying what is lost; it asks first on a terminal, and without one it needs `--yes`.
/// </summary>
public static class ForgetCommand
{
    public static Command Create()
    {
        var job = new Argument<string>("job") { Description = "the job id (gpuckpt jobs lists them)" };
        var yes = new Option<bool>("--yes") { Description = "do not ask (needed without a terminal)" };
        var driver = new Option<string?>("--driver") { Description = "sim:SOCKET or kfd (default: the driver the job was started with)" };
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var command = new Command("forget", "drop an unfinished job whose process or device is gone") { job, yes, driver, json };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var config = engineOptions.LoadExisting(parse);
            var target = await JobTargets.Find(config, parse.GetValue(job)!);
            if (!target.Unfinished) throw new UsageException($"job {target.JobId} {target.Ended}: there is nothing to forget");
            var spec = JobTargets.DriverOf(target, parse.GetValue(driver));
            using var held = JobLock.Take(engineOptions.StateDirOf(parse), target.JobId, JobLock.StopItFirst(target.JobId));
            using var gpu = JobTargets.Open(target, spec, out var gone);
            if (gone is null)
                throw new UsageException($"job {target.JobId} can still be ended properly: " +
                                         (target.Kind == "checkpoint" ? $"pid {target.Pid} exists and {spec} answers" : $"{spec} answers") +
                                         $"; `gpuckpt abort {target.JobId}` ends it (forget is for a job whose process or device is gone)");
            var lost = target.Kind == "checkpoint"
                ? $"the journal's record of checkpoint job {target.JobId} of pid {target.Pid} ({gone}); its partial image {target.ImagesDir} stays on disk, " +
                  "uncommitted, and no resume can finish it"
                : $"the journal's record of restore job {target.JobId} from {target.ImagesDir} ({gone}); whatever it had restored is not removed";
            Console.Error.WriteLine($"gpuckpt: forgetting loses {lost}");
            if (!parse.GetValue(yes))
            {
                if (Console.IsInputRedirected)
                    throw new UsageException($"not forgetting job {target.JobId}: without a terminal to ask on, pass --yes");
                Console.Error.Write("forget it? [y/N] ");
                var answer = Console.ReadLine()?.Trim();
                if (answer is not ("y" or "Y" or "yes"))
                {
                    return Cli.Error($"job {target.JobId} kept", Cli.ExitFailed, new { job_id = target.JobId });
                }
            }
            await using var engine = EngineHost.Start(gpu, config, "gpuckpt-forget");
            var reply = await engine.RunAsync(new ControlJob(target.JobId, JobControl.Forget), target.JobId);
            var asJson = parse.GetValue(json);
            switch (reply)
            {
                case CheckpointFailed { EndedBy: "forgotten" } or RestoreFailed { EndedBy: "forgotten" }:
                    if (asJson) Cli.PrintJson(new { job_id = target.JobId, state = "forgotten" });
                    else Console.Out.WriteLine($"forgot job {target.JobId}");
                    return Cli.ExitOk;
                default:
                    return JobTargets.ReportOutcome(reply, asJson);
            }
        }));
        return command;
    }
}
