using System.CommandLine;
using Akka.Actor;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Host.Commands;

/// <summary>
/// `gpuckpt unpause --pid P`: one UNPAUSE for a process left paused (by a checkpoint without --leave-running, or a job
/// that could not finish), journalled: its claim then lets checkpoints pause it again. A process that is not paused is
/// left alone (the kernel refuses a second UNPAUSE), so it is unpaused exactly once however often this runs.
/// </summary>
public static class UnpauseCommand
{

    public static Command Create()
    {
        var driver = Cli.DriverOption();
        var pid = new Option<uint>("--pid") { Description = "the paused process", Required = true };
        var json = Cli.JsonOption();
        var engineOptions = new EngineOptions();
        var command = new Command("unpause", "unpause a process a checkpoint left paused (exit 1 when it is not paused)") { driver, pid, json };
        engineOptions.AddTo(command);
        command.SetAction((parse, _) => Cli.Guard(async () =>
        {
            var p = parse.GetValue(pid);
            var asJson = parse.GetValue(json);
            using var gpu = Drivers.Open(parse.GetValue(driver)!);
            await using var engine = EngineHost.Start(gpu, engineOptions.Load(parse), "gpuckpt-unpause");
            var key = ProcessClaim.KeyOf(gpu.Name, p);
            var id = JobsActor.NewId(ProcessClaim.UnpausePrefix);
            var inbox = Inbox.Create(engine.System);
            // Held while UNPAUSE is issued: no checkpoint pauses the process in between.
            engine.System.ActorOf(ProcessClaim.Unpausing(key, id, $"unpause of pid {p}", inbox.Receiver));
            string? pausedBy;
            switch (await inbox.ReceiveAsync(engine.Settings.Wait.JournalAnswer))
            {
                case ClaimGranted granted:
                    pausedBy = granted.PausedBy;
                    break;
                case ClaimRefused refused:
                    throw new InvalidOperationException($"pid {p} is held by job {refused.Holder} ({refused.What}), which unpauses it itself when it ends; " +
                                                        $"if it was interrupted or its engine died, `gpuckpt abort {refused.Holder}` ends it and unpauses the process");
                case ClaimFailed failed:
                    throw new InvalidOperationException($"cannot claim pid {p} to unpause it: {failed.Reason}");
                case var other:
                    throw new InvalidOperationException($"unexpected answer {other}");
            }
            string outcome;
            var undone = true;
            try
            {
                using var kfd = gpu.OpenKfd(p);
                KfdCheckpoint.Unpause(kfd);
                outcome = "unpaused";
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EINVAL)
            {
                outcome = "not paused";
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
            {
                outcome = "gone";
            }
            catch (DriverException)
            {
                undone = false; // the pause stands: the claim is let go, its record of the pause stays
                await Let(engine, ProcessClaim.Release(key, id, inbox.Receiver), inbox);
                throw;
            }
            // UNPAUSE took effect, or there was none to undo: the pause's record ends, and the claim is let go, in one write.
            if (undone) await Let(engine, ProcessClaim.Unpaused(key, id, inbox.Receiver), inbox);
            switch (outcome)
            {
                case "unpaused":
                    if (asJson) Cli.PrintJson(new { pid = p, outcome, paused_by_job_id = pausedBy });
                    else Console.Out.WriteLine($"unpaused pid {p}{(pausedBy is null ? "" : $" (left paused by checkpoint job {pausedBy})")}; it runs again");
                    return Cli.ExitOk;
                case "not paused":
                    return Cli.Error($"pid {p} is not paused: nothing to unpause", Cli.ExitFailed, new { pid = p, outcome = "not_paused" });
                default:
                    return Cli.Error($"pid {p} does not exist on {gpu.Name}: nothing to unpause", Cli.ExitFailed, new { pid = p, outcome = "gone" });
            }
        }));
        return command;
    }

    private static async Task Let(EngineHost engine, Props release, Inbox inbox)
    {
        engine.System.ActorOf(release);
        if (await inbox.ReceiveAsync(engine.Settings.Wait.JournalAnswer) is not ClaimReleased)
            throw new InvalidOperationException("the journal did not record the unpause");
    }
}
