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
        if (_state.Committed is not null)
        {
            then?.Invoke();
            return;
        }
        if (_state.Started is null)
        {
            Reply(new MigrationFailed(_migrationId, Request.Pid, node, step, reason, false));
            return;
        }
        if (_state.Aborting is not null)
        {
            then?.Invoke();
            if (!_rollingBack) Rollback();
            return;
        }
        Record(new MigrationAborting(node, step, reason), () =>
        {
            then?.Invoke();
            Rollback();
        });
    }

    /// <summary>The checkpoint job ends first (resumed if the engine restarted), then UNPAUSE once, then the target discards.</summary>
    private void Rollback()
    {
        _rollingBack = true;
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
        if (_checkpointRunning) return;
        if (!_state.UnpauseIntended)
        {
            if (_request is null && _pauseStartedAt < 0 && !_resumedCheckpoint)
            {
                // A restarted engine: let the checkpoint job end properly first (it may still hold the process paused).
                _resumedCheckpoint = true;
                _checkpointRunning = true;
                _jobs.Tell(new ResumeJob(_state.Started!.CheckpointJobId), Self);
                return;
            }
            Record(new SourceUnpauseIntended(), Unpause);
            return;
        }
        if (!_state.Unpaused)
        {
            Unpause();
            return;
        }
        AbortTargetOnce();
        FinishRollback();
    }

    private bool _resumedCheckpoint;
    private bool _abortSent;

    private void AbortTargetOnce()
    {
        if (_abortSent || _state.Started is null) return;
        _abortSent = true;
        TargetMigrations.Tell(new AbortTarget(_migrationId, _state.Aborting?.Reason ?? "rolled back"), Self);
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
        }).PipeTo(Self, failure: e => new Retry("unpause"));
    }

    private void FinishRollback()
    {
        if (_state.Finished is not null || !_state.Unpaused) return;
        Timers.Cancel("give-up-target");
        var a = _state.Aborting!;
        DeleteDir();
        Finish(new MigrationFailed(_migrationId, Request.Pid, a.Node, a.Step, a.Reason, SourceResumed: true));
    }
}
