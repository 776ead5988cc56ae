using Akka.Actor;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A target lost while the image streams: its engine died or went silent. The sender holds its frames, the target's
/// node is asked until a restarted engine answers with its copy in progress (the transfer goes on from what it had
/// confirmed) or <see cref="MigrationSettings.TargetReturn"/> runs out (the migration rolls back).
/// </summary>
public sealed partial class MigrationCoordinator
{
    /// <summary>The image is still streaming: a target lost now may come back and continue it.</summary>
    private bool Waits => _sender is not null && _transfer is null && _settings.TargetReturn > TimeSpan.Zero &&
                          _targetReturns < _settings.RetryBudget;

    /// <summary>The target went silent or its engine died during the transfer: hold the frames, wait for it to restart.</summary>
    private void TargetLost(string reason)
    {
        if (!Waits)
        {
            Abort(Request.To, "transfer", reason);
            return;
        }
        if (_targetLost is not null) return;
        _targetLost = reason;
        _sender!.Tell(Migration.TargetLost.Instance);
        Timers.StartSingleTimer("target-return",
            new Failed(Request.To, "transfer", $"{reason}; it did not come back within {_settings.TargetReturn.TotalSeconds:0.#} s"),
            _settings.TargetReturn);
        // Asked until it answers: a restarted engine answers with its target (which also asks us, once, on its own).
        Timers.StartPeriodicTimer("find-target", Retry.Instance, _settings.AckTimeout + _settings.RetryBackoff);
    }

    /// <summary>
    /// The watch on a target that restarted once ended: the removal of its dead incarnation ends every watch on its
    /// address, the new one's too. It goes on if the same target answers; otherwise the migration rolls back.
    /// </summary>
    private void Confirm(string why)
    {
        if (_confirming is not null) return;
        _confirming = why;
        Timers.StartSingleTimer("target-return", new Failed(Request.To, _step, why), _settings.RequestTimeout);
        Timers.StartPeriodicTimer("find-target", Retry.Instance, _settings.AckTimeout + _settings.RetryBackoff);
        TargetMigrations.Tell(new PrepareTarget(_migrationId, _self, Self), Self);
    }

    /// <summary>
    /// The target answers again: a restarted engine that still holds its copy in progress (the transfer goes on there),
    /// or the same actor whose node only looked gone (a restarted incarnation at its address ends the watch on it too).
    /// </summary>
    private void TargetReturned(IActorRef target)
    {
        Timers.Cancel("target-return");
        Timers.Cancel("find-target");
        _targetLost = null;
        if (_target is not null) Context.Unwatch(_target);
        // Counted against the retry budget either way: a target that keeps going silent does not hold the source forever.
        _targetReturns++;
        _target = target;
        Context.Watch(target);
        _sender!.Tell(new Retarget(target));
        target.Tell(new TransferResumes(_migrationId));
        Report("transfer");
    }

    /// <summary>The target's node answers again while the image streams or the target restores: it is back, or it is another engine.</summary>
    private void Answered(TargetPrepared prepared)
    {
        if (_confirming is { } why)
        {
            if (!prepared.Target.Equals(_target))
            {
                Abort(Request.To, _step, $"{why}; its engine restarted");
                return;
            }
            Timers.Cancel("target-return");
            Timers.Cancel("find-target");
            _confirming = null;
            Context.Watch(_target);
            return;
        }
        if (_targetLost is not null && Waits) TargetReturned(prepared.Target);
    }

    private void FindTarget() => TargetMigrations.Tell(new PrepareTarget(_migrationId, _self, Self), Self);

    /// <summary>The watch on the target ended: wait for it while the image streams, confirm it once it restarted before, else roll back.</summary>
    private void TargetStopped()
    {
        var why = $"node {Request.To} stopped (its engine died, or it left the cluster)";
        if (Waits) TargetLost(why);
        else if (_targetReturns > 0) Confirm(why);
        else Abort(Request.To, _step, why);
    }
}
