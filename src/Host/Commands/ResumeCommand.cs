using System.CommandLine;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Akka.Actor;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt resume [JOB]`: continue a journalled job (or every unfinished one) after the engine stopped.</summary>
public static class ResumeCommand
{
    public static Command Create()
    {
        var job = new Argument<string?>("job") { Description = "the job id (default: every unfinished job)", Arity = ArgumentArity.ZeroOrOne };
        var driver = new Option<string?>("--driver") { Description = "sim:SOCKET or kfd (default: the driver the job was started with)" };
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var trust = new TrustOptions();
        var command = new Command("resume", "continue an interrupted checkpoint or restore job") { job, driver, json };
        engineOptions.AddTo(command);
        trust.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var config = trust.Apply(parse, engineOptions.LoadExisting(parse));
            var jobs = await JobsCommand.List(config);
            var wanted = parse.GetValue(job);
            var targets = wanted is null
                ? jobs.Where(j => j.Unfinished).ToList()
                : [jobs.FirstOrDefault(j => j.JobId == wanted) ?? throw new UsageException($"no job {wanted} in the journal")];
            if (targets.Count == 0)
            {
                if (parse.GetValue(json)) Cli.PrintJson(new { resumed = Array.Empty<object>() });
                else Console.Out.WriteLine("no unfinished jobs");
                return Cli.ExitOk;
            }
            // A finished job (completed, failed, aborted, forgotten) has nothing left to do: replaying its answer would say it ran.
            if (!targets[0].Unfinished) throw new UsageException($"job {targets[0].JobId} {targets[0].Ended}: there is nothing to resume");
            var exit = Cli.ExitOk;
            foreach (var target in targets)
            {
                var spec = JobTargets.DriverOf(target, parse.GetValue(driver));
                JobLock held;
                try
                {
                    held = JobLock.Take(engineOptions.StateDirOf(parse), target.JobId, "it is not waiting to be resumed (wait for it to finish)");
                }
                catch (InvalidOperationException running) when (wanted is null)
                {
                    // Resuming every unfinished job: one still running elsewhere is that process's to finish.
                    exit = Cli.Error(running.Message, Cli.ExitFailed, new { job_id = target.JobId });
                    continue;
                }
                using var _ = held;
                Engine.Checkpoint.ProcessLock? claimed;
                try
                {
                    // A checkpoint's resume has the process in hand again: it meets a checkpoint of that pid started meanwhile here.
                    claimed = target.Kind == "checkpoint" && target.Pid is { } pid
                        ? Engine.Checkpoint.ProcessLock.Take(spec, pid, target.JobId, CheckpointCommand.HolderWait(config))
                        : null;
                }
                catch (InvalidOperationException busy) when (wanted is null)
                {
                    exit = Cli.Error(busy.Message, Cli.ExitFailed, new { job_id = target.JobId });
                    continue;
                }
                using var __ = claimed;
                if (target.Kind == "restore") RestoreCommand.RefuseKfd(spec);
                using var gpu = JobTargets.Open(target, spec, out var gone);
                if (gone is not null)
                {
                    // Nothing to continue with: say why and what ends the job, instead of starting it to fail or wait.
                    exit = Cli.Error($"job {target.JobId} cannot continue: {gone}; {JobTargets.WayOut(target, gpu is UnreachableDriver)}",
                        Cli.ExitFailed, new { job_id = target.JobId });
                    continue;
                }
                await using var engine = EngineHost.Start(gpu, config, "gpuckpt-resume");
                var asJson = parse.GetValue(json);
                var reply = await ProgressView.Run(engine.System, Cli.Interactive(asJson), target.Kind,
                    () => engine.RunAsync(new ResumeJob(target.JobId), target.JobId));
                var code = reply switch
                {
                    ICheckpointMessage c => CheckpointCommand.Report(c, asJson),
                    IRestoreMessage r => RestoreCommand.Report(r, asJson),
                    _ => throw new InvalidOperationException($"unexpected reply {reply}"),
                };
                if (code != Cli.ExitOk) exit = code;
            }
            return exit;
        }));
        return command;
    }
}
