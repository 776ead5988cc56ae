using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Moves one process from this node to another: a dry topology check (nothing paused if it fails) → checkpoint here
/// while the image streams to the target → the target commits its copy and restores it up to RESUME → the commit,
/// journalled here → RESUME on the target → the source is killed. Before the commit any failure rolls back: the
/// target discards what it has and the source is unpaused, exactly once. After it, the migration only goes forward.
/// An engine restarted mid-migration continues from the journal: forward if committed, else roll back. A target
/// whose engine dies while the image streams is waited for (<see cref="MigrationSettings.TargetReturn"/>): if it
/// restarts in time, the transfer goes on from what it had confirmed; if not, the migration rolls back.
/// Its behaviours are the protocol's steps: <see cref="DryChecking"/> → <see cref="PreparingTarget"/> →
/// <see cref="Checkpointing"/> → <see cref="Sealing"/> → <see cref="Restoring"/> → <see cref="Committed"/> →
/// <see cref="Releasing"/>; before the commit, a rollback: <see cref="EndingCheckpoint"/> → <see cref="Unpausing"/> →
/// <see cref="DiscardingTarget"/>.
/// </summary>
public sealed partial class MigrationCoordinator : ReceivePersistentActor, IWithTimers
{
    private readonly string _migrationId;
    private readonly MigrateRequest? _request;
    private readonly string _self;
    private readonly IGpuDriver _driver;
    private readonly IActorRef _jobs;
    private readonly MigrationSettings _settings;
    private readonly MigrationState _state = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Stopwatch _sinceReport = Stopwatch.StartNew();
    private readonly bool _live;
    private readonly IActorRef _replyTo;
    private IActorRef? _target, _sender;

    /// <summary>The checkpoint job, from its request until it ends: a rollback waits for it to end before it unpauses.</summary>
    private string? _runningCheckpoint;

    /// <summary>The pid's lock, from the dry check on until this coordinator stops (a coordinator a restart resumed holds none).</summary>
    private ProcessLock? _claimed;

    /// <summary>The chunks the checkpoint wrote, kept for the sender (null: it reads every piece back from the image).</summary>
    private CapturedPieces? _kept;
    // The process stopped running here at the first, and runs on the target from the second (its RESUME answered).
    private double _pauseStartedAt = -1, _pauseEndedAt = -1, _transferSeconds;
    private TransferDone? _transfer;
    private long _confirmed, _announced, _resent;
    private int _attempts, _targetReturns;
    private string? _targetLost, _confirming;
    private string _step = "dry check";

    /// <param name="live">Copy while the process runs (<see cref="MigrateLiveRequest"/>); a coordinator a restart resumed rolls back before its commit, and needs not know.</param>
    public MigrationCoordinator(string migrationId, MigrateRequest? request, string selfName, IGpuDriver driver, IActorRef jobs,
        MigrationSettings settings, IActorRef replyTo, bool live = false)
    {
        _migrationId = migrationId;
        _live = live;
        _request = request;
        _self = selfName;
        _driver = driver;
        _jobs = jobs;
        _settings = settings;
        _replyTo = replyTo;
        Recover<IMigrationEvent>(_state.Apply);
        Recover<RecoveryCompleted>(_ => Self.Tell(Go.Instance));
        Command<Go>(_ => Next());
        Command<QueryMigration>(Query);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public override string PersistenceId => $"migration-{_migrationId}";

    public static Props Props(string migrationId, MigrateRequest? request, string selfName, IGpuDriver driver, IActorRef jobs,
        MigrationSettings settings, IActorRef replyTo, bool live = false) =>
        Akka.Actor.Props.Create(() => new MigrationCoordinator(migrationId, request, selfName, driver, jobs, settings, replyTo, live));

    private MigrateRequest Request => _state.Started?.Request ?? _request!;
    private string Dir => _settings.OutgoingDir(_migrationId);
    private string ImageDir => Path.Combine(Dir, "image");
    private ActorSelection TargetMigrations => Context.ActorSelection($"{_state.Started!.TargetNode}/user/{MigrationsActor.Name}");

    private void Record(IMigrationEvent e, Action? then = null) => Persist(e, ev =>
    {
        _state.Apply(ev);
        then?.Invoke();
    });

    /// <summary>Decides the next step from what the journal says.</summary>
    private void Next()
    {
        if (_state.Finished is { } outcome)
        {
            Reply(outcome);
            return;
        }
        if (_state.Started is null)
        {
            if (_request is null)
            {
                Context.Stop(Self);
                return;
            }
            DryCheck();
            return;
        }
        if (_state.Committed is { } committed)
        {
            if (_state.Released) Finish(new MigrationCompleted(Summary(committed)));
            else Forward();
            return;
        }
        if (_state.Aborting is null)
        {
            // Only a restarted engine gets here: it never saw the target hold the process, so the migration rolls back.
            Abort(_self, "engine restart", $"the engine on node {_self} restarted during the migration");
            return;
        }
        RollBack();
    }

    // ---- the dry check: nothing is paused yet ------------------------------------------------------------------------

    /// <summary>The target must be able to hold the process's GPUs (the restore's matcher) before anything is paused.</summary>
    private void DryCheck()
    {
        Report("dry-check");
        Become(DryChecking);
        var request = Request;
        var driver = _driver;
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var target = cluster.State.Members.FirstOrDefault(m => m.Status == Akka.Cluster.MemberStatus.Up &&
            NodeActor.Named(m, request.To));
        if (target is null)
        {
            Reply(new MigrationFailed(_migrationId, request.Pid, request.To, "dry check", $"no member named {request.To} is up in the cluster", false));
            return;
        }
        if (target.Address == cluster.SelfAddress)
        {
            Reply(new MigrationFailed(_migrationId, request.Pid, request.To, "dry check", "the target is the source node itself", false));
            return;
        }
        var node = Context.ActorSelection(new RootActorPath(target.Address) / "user" / NodeActor.Name);
        var timeout = _settings.RequestTimeout;
        var to = request.To;
        var from = _self;
        var migrationId = _migrationId;
        var holderWait = _settings.ProcessLockHolderWait;
        Task.Run(async () =>
        {
            var remote = await node.Ask<NodeInfo>(NodeInfoRequest.Instance, timeout).ConfigureAwait(false);
            if (remote.Leaving) return (object)new Failed(to, "dry check", MigrationsActor.LeavingReason(to));
            IReadOnlyList<GpuNode> used;
            try
            {
                var minors = driver.RenderMinorsOpenedBy(request.Pid).ToHashSet();
                used = [.. driver.Topology().Where(g => minors.Contains(g.DrmRenderMinor))];
            }
            catch (DriverException e)
            {
                return new Failed(from, "dry check", e.Message);
            }
            try
            {
                TopologyMatcher.Match(used, remote.Gpus);
            }
            catch (TopologyMismatchException e)
            {
                return new Failed(to, "dry check", $"node {to} cannot hold pid {request.Pid}'s GPUs: {e.Message}");
            }
            // A checkpoint of the pid run elsewhere on this machine (a CLI's) meets this migration here, before the pause.
            try
            {
                return new Checked(target.Address.ToString(), ProcessLock.Take(driver.Name, request.Pid, migrationId, holderWait));
            }
            catch (InvalidOperationException e)
            {
                return new Failed(from, "dry check", e.Message);
            }
        }).PipeTo(Self, failure: e => new Failed(to, "dry check", $"node {to} did not answer: {e.Message}"));
    }

    private void DryChecking()
    {
        Command<Checked>(c =>
        {
            _claimed = c.Claimed;
            Record(new MigrationStarted(_migrationId, _request!, c.TargetNode, JobsActor.NewId(JobsActor.CheckpointPrefix)), Prepare);
        });
        Command<Failed>(f => Abort(f.Node, f.Step, f.Reason));
        Command<QueryMigration>(Query);
    }

    // ---- the target prepares a place for the image --------------------------------------------------------------------

    private void Prepare()
    {
        Directory.CreateDirectory(Dir);
        CrashPoints.Hit("migration-started");
        Report("prepare target");
        Become(PreparingTarget);
        TargetMigrations.Tell(new PrepareTarget(_migrationId, _self, Self), Self);
        _attempts = 0;
        Timers.StartPeriodicTimer("retry", Retry.Instance, _settings.AckTimeout + _settings.RetryBackoff);
    }

    private void PreparingTarget()
    {
        Command<TargetPrepared>(StartCheckpoint);
        Command<Retry>(_ =>
        {
            if (++_attempts > _settings.RetryBudget)
            {
                Timers.Cancel("retry");
                Abort(Request.To, "prepare target", $"node {Request.To} did not answer; retry budget of {_settings.RetryBudget} spent");
                return;
            }
            TargetMigrations.Tell(new PrepareTarget(_migrationId, _self, Self), Self);
        });
        Command<TargetFailed>(f => Abort(f.Node, f.Step, f.Reason));
        Command<Failed>(f => Abort(f.Node, f.Step, f.Reason));
        Command<QueryMigration>(Query);
    }

    // ---- the checkpoint here, its chunks streaming to the target -------------------------------------------------------

    private void StartCheckpoint(TargetPrepared prepared)
    {
        Timers.Cancel("retry");
        _target = prepared.Target;
        // A target node that dies (or is downed) before the commit rolls the migration back; after it, commits are retried.
        Context.Watch(_target);
        // The chunks the checkpoint writes go to the sender from memory while it keeps up (and the budget allows).
        _kept ??= _settings.KeptBytes > 0 ? CapturedPieces.Open(ImageDir, _settings.KeptBytes, _settings.FrameSize, _settings.AckTimeout) : null;
        _sender = Context.ActorOf(TransferSender.Props(_migrationId, prepared.Target, ImageDir, _settings, _kept, _live), "transfer");
        Context.Watch(_sender);
        _runningCheckpoint = _state.Started!.CheckpointJobId;
        var checkpoint = new CheckpointRequest(Request.Pid, ImageDir, LeaveRunning: false, _runningCheckpoint, ReportChunks: true);
        _jobs.Tell(_live ? new LiveCheckpointRequest(checkpoint) : checkpoint, Self);
        Report("transfer");
        Become(() => Checkpointing(lastRound: false));
    }

    /// <param name="lastRound">A live migration's last round (the process paused): what it writes is the pause's copy.</param>
    private void Checkpointing(bool lastRound)
    {
        Command<ImageChunkWritten>(c =>
        {
            if (lastRound) _lastRoundBytes += c.Length;
            _sender?.Tell(new SendPieces([
                new TransferPiece(c.FileName, LengthPrefix.Size + c.FileLength, LengthPrefix.Size + c.Offset, c.Length, c.Checksum)]));
        });
        Command<LiveRoundCopied>(RoundCopied);
        Command<AllSent>(_ => NextRound());
        Command<CheckpointCompleted>(CheckpointDone);
        Command<CheckpointFailed>(f => CheckpointEnded(f.Reason));
        Command<JobUnknown>(_ => CheckpointEnded(null));
        WhileStreaming();
    }

    private void CheckpointDone(CheckpointCompleted done)
    {
        _runningCheckpoint = null;
        var s = done.Summary;
        // The process was paused (PROCESS_INFO) this long before the checkpoint job ended.
        _pauseStartedAt = _clock.Elapsed.TotalSeconds - s.PauseSeconds;
        Context.GetLogger().Info("migration {0}: checkpoint committed, pid {1} paused {2:F2} s so far ({3})", _migrationId, s.Pid, s.PauseSeconds,
            string.Join(", ", (s.Phases ?? []).Select(p => $"{p.Phase} {p.Seconds:F2} s")));
        var dir = ImageDir;
        var signer = _settings.Tls?.Certificate;
        Task.Run(() => ImageListed.From(dir, signer)).PipeTo(Self, failure: e => new Failed(_self, "checkpoint", $"the committed image cannot be read: {e.Message}"));
        Become(Sealing);
    }

    private void CheckpointEnded(string? reason)
    {
        _runningCheckpoint = null;
        Abort(_self, "checkpoint", reason ?? "the checkpoint job is unknown");
    }

    /// <summary>The checkpoint is committed here: the rest of its files, then the seal, go to the target.</summary>
    private void Sealing()
    {
        Command<ImageListed>(l =>
        {
            _sender?.Tell(new SendPieces(l.Pieces));
            _sender?.Tell(new SealWhenDone(l.Files, l.Links, l.Seal));
        });
        Command<TransferDone>(TransferDone);
        WhileStreaming();
    }

    /// <summary>What the image's stream hears from the target, whether the checkpoint still runs or has committed.</summary>
    private void WhileStreaming()
    {
        Command<TransferProgress>(p =>
        {
            (_confirmed, _announced, _resent) = (p.BytesConfirmed, p.BytesAnnounced, p.BytesResent);
            Report("transfer");
        });
        Command<TransferFailed>(f => Abort(Request.To, "transfer", f.Reason));
        Command<TargetSilent>(s => TargetLost(s.Reason));
        Command<TargetPrepared>(Answered);
        Command<Retry>(_ => FindTarget());
        Command<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_target)) TargetStopped();
            else if (t.ActorRef.Equals(_sender)) Abort(Request.To, "transfer", "the transfer stopped unexpectedly");
        });
        WhileTargetWorks();
    }

    /// <summary>What the target can say at any step before the commit.</summary>
    private void WhileTargetWorks()
    {
        Command<TargetFailed>(f => Abort(f.Node, f.Step, f.Reason));
        Command<Failed>(f => Abort(f.Node, f.Step, f.Reason));
        Command<QueryMigration>(Query);
    }

    // ---- the target restores its copy up to RESUME --------------------------------------------------------------------

    private void TransferDone(TransferDone done)
    {
        _transfer = done;
        _transferSeconds = done.Seconds;
        Context.GetLogger().Info("migration {0}: the target holds the image, {1:F2} s after the pause began", _migrationId,
            _pauseStartedAt >= 0 ? _clock.Elapsed.TotalSeconds - _pauseStartedAt : 0);
        (_confirmed, _resent) = (done.ImageBytes, done.BytesResent);
        CrashPoints.Hit("migration-transferred");
        Report("restore");
        Become(Restoring);
        _target!.Tell(new StartTargetRestore(_migrationId), Self);
        Timers.StartSingleTimer("restore-timeout", new Failed(Request.To, "restore", $"no answer within {_settings.RestoreTimeout}"), _settings.RestoreTimeout);
    }

    private void Restoring()
    {
        Command<TargetHeld>(held =>
        {
            Timers.Cancel("restore-timeout");
            CrashPoints.Hit("migration-held");
            Record(new MigrationCommitted(held.Pid, held.GpuMap), () =>
            {
                CrashPoints.Hit("migration-committed");
                Forward();
            });
        });
        Command<TargetPrepared>(Answered);
        Command<Retry>(_ => FindTarget());
        Command<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_target)) TargetStopped();
        });
        Command<TargetSilent>(s => TargetLost(s.Reason));
        Command<TransferFailed>(f => Abort(Request.To, "transfer", f.Reason));
        Command<TransferProgress>(_ => { });
        WhileTargetWorks();
    }

    // ---- committed: only forward from here ----------------------------------------------------------------------------

    /// <summary>After the commit: RESUME on the target (asked until it answers), then the source is killed.</summary>
    private void Forward()
    {
        Report("commit");
        Become(Committed);
        TargetMigrations.Tell(new CommitTarget(_migrationId), Self);
        Timers.StartPeriodicTimer("commit", RetryCommit.Instance, _settings.RetryBackoff + _settings.AckTimeout);
    }

    private void Committed()
    {
        Command<TargetResumed>(_ =>
        {
            _pauseEndedAt = _clock.Elapsed.TotalSeconds;
            Timers.Cancel("commit");
            CrashPoints.Hit("migration-target-resumed");
            Become(Releasing);
            Release();
        });
        Command<RetryCommit>(_ => TargetMigrations.Tell(new CommitTarget(_migrationId), Self));
        Command<QueryMigration>(Query);
        // A failure after the commit changes nothing; what a watch or a late transfer says no longer matters.
        CommandAny(_ => { });
    }

    private void Releasing()
    {
        Command<Released>(_ => Record(new SourceReleased(_state.Committed!.TargetPid), Next));
        Command<RetryRelease>(_ => Release());
        Command<QueryMigration>(Query);
        CommandAny(_ => { });
    }

    private void Release()
    {
        Report("release source");
        var driver = _driver;
        var pid = Request.Pid;
        Task.Run(() =>
        {
            try
            {
                driver.KillProcess(pid);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
            {
                // Killed before a restart: it is released all the same.
            }
            return new Released();
        }).PipeTo(Self, failure: _ => RetryRelease.Instance);
    }

    private MigrationSummary Summary(MigrationCommitted committed)
    {
        // The pause ends where the process runs again, on the target: killing the source after it is not part of it.
        var pause = _pauseStartedAt >= 0 ? (_pauseEndedAt >= 0 ? _pauseEndedAt : _clock.Elapsed.TotalSeconds) - _pauseStartedAt : 0;
        return new MigrationSummary(_migrationId, Request.Pid, _self, Request.To, committed.TargetPid, _transfer?.ImageBytes ?? 0,
            _transfer?.BytesSent ?? 0, _transfer?.BytesResent ?? 0, _transfer?.LinkBreaks ?? 0, _clock.Elapsed.TotalSeconds,
            _transferSeconds, pause, committed.GpuMap, _transfer?.TargetRestarts ?? 0, _transfer?.BytesKept ?? 0);
    }

    protected override void PostStop()
    {
        _kept?.Dispose();
        _claimed?.Dispose();
        base.PostStop();
    }

    private void Finish(IMigrationMessage outcome)
    {
        if (outcome is MigrationCompleted) DeleteDir();
        Record(new MigrationFinished(outcome), () => Reply(outcome));
    }

    private void DeleteDir()
    {
        try
        {
            if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover directory is removed when the node starts next.
        }
    }

    private void Reply(object outcome)
    {
        // Let go before the answer: a command that acts on the pid once it hears it finds the pid free.
        _claimed?.Dispose();
        _claimed = null;
        // A live migration's rounds, the last (paused) one with the bytes it wrote and the pause, before the outcome.
        if (outcome is MigrationCompleted { Summary: var summary } && _rounds.Count > 0)
            _replyTo.Tell(new LiveRoundsReport(_migrationId, _rounds.Append(new LiveRound(_lastRoundBytes, summary.PauseSeconds)).ToArray()));
        _replyTo.Tell(outcome);
        Context.Stop(Self);
    }

    private void Report(string step)
    {
        _step = step;
        if (step == "transfer" && _sinceReport.ElapsedMilliseconds < 200) return;
        _sinceReport.Restart();
        _replyTo.Tell(new MigrationProgress(_migrationId, step, _confirmed, _announced, _resent));
    }

    private sealed class Go
    {
        public static readonly Go Instance = new();
        private Go() { }
    }

    private sealed class GiveUpTarget
    {
        public static readonly GiveUpTarget Instance = new();
        private GiveUpTarget() { }
    }

    /// <summary>Ask the target's node again: to prepare, or (while it is lost) whether it is back.</summary>
    private sealed class Retry
    {
        public static readonly Retry Instance = new();
        private Retry() { }
    }

    private sealed class RetryCommit
    {
        public static readonly RetryCommit Instance = new();
        private RetryCommit() { }
    }

    private sealed class RetryRelease
    {
        public static readonly RetryRelease Instance = new();
        private RetryRelease() { }
    }

    private sealed class RetryUnpause
    {
        public static readonly RetryUnpause Instance = new();
        private RetryUnpause() { }
    }

    private sealed record Checked(string TargetNode, ProcessLock Claimed) : INoSerializationVerificationNeeded;

    private sealed record Failed(string Node, string Step, string Reason) : INoSerializationVerificationNeeded;

    private sealed record Unpaused(bool TookEffect) : INoSerializationVerificationNeeded;

    private sealed record Released : INoSerializationVerificationNeeded;
}
