using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors.Migration;

/// <summary>The way back, before the commit: the decision journalled, the checkpoint job ended, UNPAUSE once, the target told.</summary>
public sealed partial class MigrationCoordinator
{
    private void Query(QueryMigration query)
    {
        var replyTo = Sender;
        if (_state.Committed is not null)
        {
            replyTo.Tell(new MigrationDecision(_migrationId, true));
            return;
        }
        if (_state.Aborting is not null || _state.Started is null)
        {
            replyTo.Tell(new MigrationDecision(_migrationId, false));
            return;
        }
        if (query.CanContinue && query.Node == Request.To)
        {
            // Asked again before the answer arrived: the transfer already goes on there.
            if (replyTo.Equals(_target) && _targetLost is null)
            {
                replyTo.Tell(new TransferResumes(_migrationId));
                return;
            }
            if (Waits)
            {
                TargetReturned(replyTo);
                return;
            }
        }
        // Not committed yet, and the target lost its state: decide now, for good, to roll back.
        Abort(query.Node, "engine restart", query.Reason, () => replyTo.Tell(new MigrationDecision(_migrationId, false)));
    }

    /// <summary>Before the commit: journal the rollback (the decision), then undo. After the commit a failure changes nothing.</summary>
    private void Abort(string node, string step, string reason, Action? then = null)
    {
        if (_state.Committed is not null || _state.Aborting is not null)
        {
            then?.Invoke();
            return;
        }
        if (_state.Started is null)
        {
            Reply(new MigrationFailed(_migrationId, Request.Pid, node, step, reason, false));
            return;
        }
        Record(new MigrationAborting(node, step, reason), () =>
        {
            then?.Invoke();
            RollBack();
        });
    }

    /// <summary>The checkpoint job ends first (resumed if the engine restarted), then UNPAUSE once, then the target discards.</summary>
    private void RollBack()
    {
        Timers.Cancel("retry");
        Timers.Cancel("restore-timeout");
        Timers.Cancel("target-return");
        Timers.Cancel("find-target");
        if (_sender is not null)
        {
            Context.Unwatch(_sender);
            Context.Stop(_sender);
            _sender = null;
        }
        Report("rollback");
        // A live checkpoint between its rounds waits for a word: it ends (the process runs on), and the rollback goes on when it has.
        _liveJob?.Tell(new LiveRoundNext(false, "the migration rolled back"));
        _liveJob = null;
        if (_runningCheckpoint is null && !_state.UnpauseIntended && _request is null && _pauseStartedAt < 0)
        {
            // A restarted engine: let the checkpoint job end properly first (it may still hold the process paused).
            _runningCheckpoint = _state.Started!.CheckpointJobId;
            _jobs.Tell(new ResumeJob(_runningCheckpoint), Self);
        }
        if (_runningCheckpoint is not null) Become(EndingCheckpoint);
        else UnpauseSource();
    }

    /// <summary>Rolling back: the checkpoint job still runs; it ends (its own rollback) before the source is unpaused here.</summary>
    private void EndingCheckpoint()
    {
        Command<CheckpointCompleted>(done =>
        {
            // The process was paused (PROCESS_INFO) this long before the checkpoint job ended.
            _pauseStartedAt = _clock.Elapsed.TotalSeconds - done.Summary.PauseSeconds;
            CheckpointEndedInRollBack();
        });
        Command<CheckpointFailed>(_ => CheckpointEndedInRollBack());
        Command<JobUnknown>(_ => CheckpointEndedInRollBack());
        Command<LiveRoundCopied>(_ => Sender.Tell(new LiveRoundNext(false, "the migration rolled back")));
        WhileRollingBack();
    }

    private void CheckpointEndedInRollBack()
    {
        _runningCheckpoint = null;
        UnpauseSource();
    }

    /// <summary>UNPAUSE once: the intent journalled first, then the ioctl; a source unpaused before a restart is not unpaused again.</summary>
    private void UnpauseSource()
    {
        if (!_state.UnpauseIntended)
        {
            Become(Unpausing);
            Record(new SourceUnpauseIntended(), Unpause);
            return;
        }
        if (!_state.Unpaused)
        {
            Become(Unpausing);
            Unpause();
            return;
        }
        TargetMigrations.Tell(new AbortTarget(_migrationId, _state.Aborting!.Reason), Self);
        FinishRollback();
    }

    private void Unpausing()
    {
        Command<Unpaused>(u => Record(new SourceUnpaused(u.TookEffect), () =>
        {
            CrashPoints.Hit("migration-unpaused");
            TargetMigrations.Tell(new AbortTarget(_migrationId, _state.Aborting!.Reason), Self);
            Become(DiscardingTarget);
            Timers.StartSingleTimer("give-up-target", GiveUpTarget.Instance, _settings.RequestTimeout);
            // A target whose engine is gone never answers: its watch ends, and so does the wait (an engine started again
            // there asks what became of the migration, and discards its copy).
            if (_target is not null) Context.Watch(_target);
        }));
        Command<RetryUnpause>(_ => Timers.StartSingleTimer("unpause", UnpauseAgain.Instance, _settings.RetryBackoff));
        Command<UnpauseAgain>(_ => Unpause());
        WhileRollingBack();
    }

    /// <summary>Rolled back here: the target is told to discard what it holds, and answers (or is given up on).</summary>
    private void DiscardingTarget()
    {
        Command<TargetAborted>(_ => FinishRollback());
        Command<GiveUpTarget>(_ => FinishRollback());
        Command<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_target)) FinishRollback();
        });
        WhileRollingBack();
    }

    /// <summary>What no step of a rollback acts on: the decision is taken, and what a watch or a late answer says changes nothing.</summary>
    private void WhileRollingBack()
    {
        Command<QueryMigration>(Query);
        CommandAny(_ => { });
    }

    /// <summary>UNPAUSE the source; EINVAL means it was not paused (never, or an UNPAUSE before a restart took effect).</summary>
    private void Unpause()
    {
        var driver = _driver;
        var pid = Request.Pid;
        Task.Run(() =>
        {
            CrashPoints.Hit("migration-unpause-intended");
            try
            {
                using var kfd = driver.OpenKfd(pid);
                KfdCheckpoint.Unpause(kfd);
                return new Unpaused(true);
            }
            catch (DriverException e) when (e.ErrorNumber is Errno.EINVAL or Errno.ESRCH)
            {
                return new Unpaused(false);
            }
        }).PipeTo(Self, failure: _ => RetryUnpause.Instance);
    }

    private void FinishRollback()
    {
        Timers.Cancel("give-up-target");
        var a = _state.Aborting!;
        DeleteDir();
        Become(() => CommandAny(_ => { }));
        Finish(new MigrationFailed(_migrationId, Request.Pid, a.Node, a.Step, a.Reason, SourceResumed: true));
    }

    private sealed class UnpauseAgain
    {
        public static readonly UnpauseAgain Instance = new();
        private UnpauseAgain() { }
    }
}
