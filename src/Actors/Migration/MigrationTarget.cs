using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The target side of one migration: receives the streamed frames (each checked on arrival, acknowledged once
/// written), commits its own copy of the image, restores it up to RESUME, and then does what the coordinator decided:
/// RESUME on commit, discard everything otherwise. Journalled: an engine that restarts asks the coordinator what was
/// decided. While the image was still arriving, the coordinator may let the transfer go on into the copy on disk;
/// past that and before the commit it is a rollback; after the commit, always forward.
/// </summary>
public sealed partial class MigrationTarget : ReceivePersistentActor, IWithTimers
{
    private readonly string _migrationId;
    private readonly string _node;
    private readonly IActorRef _jobs;
    private readonly MigrationSettings _settings;
    private readonly TargetState _state = new();
    private ImageReceiver? _receiver;
    // How the copy is written, so that its restore reads it the same way (null: no copy begun in this incarnation).
    private bool? _throughPageCache;
    private string? _dataToken;
    private IActorRef? _dataSender;
    private bool _sealed, _beginning, _sealing, _discarding;
    private string? _checkedManifest;
    private IActorRef? _coordinator;
    private IActorRef? _restoreJob;
    private RestoreSummary? _held;
    private string? _abortReason;
    private readonly List<IActorRef> _abortWaiters = [];

    public MigrationTarget(string migrationId, string node, IActorRef jobs, MigrationSettings settings)
    {
        _migrationId = migrationId;
        _node = node;
        _jobs = jobs;
        _settings = settings;
        Recover<ITargetEvent>(_state.Apply);
        Recover<RecoveryCompleted>(_ => Self.Tell(Recovered.Instance));
        Command<Recovered>(_ => OnRecovered());
        Command<PrepareTarget>(Prepare);
        Command<BeginImage>(Begin);
        Command<ReceiverReady>(r =>
        {
            _receiver = r.Receiver;
            r.ReplyTo.Tell(Begun(r.ReplyTo));
        });
        Command<byte[]>(f => Frame(f, pooled: false));
        Command<LinkFrame>(f => Frame(f.Bytes, pooled: true));
        Command<LinkTampered>(t => Fail("receive", t.Reason));
        Command<SealImage>(Seal);
        Command<Sealed>(s =>
        {
            CrashPoints.Hit("target-sealed");
            _sealed = true;
            _checkedManifest = s.CheckedManifest;
            s.ReplyTo.Tell(new ImageSealed(_migrationId, s.Bytes));
        });
        Command<StartTargetRestore>(StartRestore);
        Command<RestoreHeld>(Held);
        Command<RestoreCompleted>(Resumed);
        Command<RestoreFailed>(RestoreEnded);
        Command<CommitTarget>(Commit);
        Command<MigrationDecision>(d =>
        {
            Timers.Cancel("ask");
            if (d.Committed) Self.Tell(new CommitTarget(_migrationId));
            else Self.Tell(new AbortTarget(_migrationId, "the coordinator rolled the migration back"));
        });
        Command<AbortTarget>(Abort);
        Command<ImageDeleted>(_ => Persist(new TargetEnded(0, $"discarded: {_abortReason}"), e =>
        {
            _state.Apply(e);
            AbortDone();
        }));
        // The node's list of arrived processes holds this one: nothing of the migration is left to keep here.
        Command<ArrivalRecorded>(_ => CleanUp(keepNothing: true));
        Command<TransferResumes>(_ =>
        {
            Timers.Cancel("ask");
            _coordinator = Sender;
        });
        Command<AskDecision>(_ => AskCoordinator());
        Command<Status.Failure>(f => Fail("receive", f.Cause.Message));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public override string PersistenceId => $"migration-target-{_migrationId}";

    public static Props Props(string migrationId, string node, IActorRef jobs, MigrationSettings settings) =>
        Akka.Actor.Props.Create(() => new MigrationTarget(migrationId, node, jobs, settings));

    private string Dir => _settings.IncomingDir(_migrationId);
    private string ImageDir => Path.Combine(Dir, "image");

    protected override void PostStop()
    {
        if (_dataToken is not null) _settings.Listener?.Unregister(_dataToken);
        _receiver?.Dispose();
        base.PostStop();
    }

    private void OnRecovered()
    {
        if (_state.Ended is { } ended)
        {
            // It ended before the engine died, but its directory stayed: make sure the node lists a process that arrived.
            if (ended.Pid != 0) Context.Parent.Tell(new ProcessArrived(_migrationId, ended.Pid, _state.Started?.From ?? "?"));
            else CleanUp(keepNothing: true);
            return;
        }
        if (_state.Started is null) return;
        if (_coordinator is not null) return;
        // The engine restarted in the middle of this migration: the coordinator decides. Before its commit that is a
        // rollback, unless the image was still streaming here: then the transfer may go on into the copy on disk.
        if (_state.CommitSeen) Commit(new CommitTarget(_migrationId));
        else AskCoordinator();
    }

    private void AskCoordinator()
    {
        if (_state.Ended is not null || _state.Started is not { } started) return;
        Context.ActorSelection($"{started.CoordinatorNode}/user/{MigrationsActor.Name}")
            .Tell(new QueryMigration(_migrationId, _node, $"the engine on node {_node} restarted during the migration",
                CanContinue: _state.RestoreJobId is null && !_state.CommitSeen), Self);
        Timers.StartSingleTimer("ask", AskDecision.Instance, _settings.RequestTimeout);
    }

    private void Prepare(PrepareTarget prepare)
    {
        _coordinator = prepare.Coordinator;
        if (_state.Ended is not null)
        {
            Sender.Tell(new TargetFailed(_migrationId, _node, "prepare", "this migration already ended here"));
            return;
        }
        var replyTo = Sender;
        if (_state.Started is not null)
        {
            replyTo.Tell(new TargetPrepared(_migrationId, Self));
            return;
        }
        var coordinatorNode = prepare.Coordinator.Path.Address.ToString();
        Persist(new TargetStarted(_migrationId, prepare.From, coordinatorNode), e =>
        {
            _state.Apply(e);
            replyTo.Tell(new TargetPrepared(_migrationId, Self));
        });
    }

    private void Begin(BeginImage begin)
    {
        var replyTo = Sender;
        if (_receiver is not null)
        {
            replyTo.Tell(Begun(replyTo));
            return;
        }
        // A request repeated while the copy is being created is answered by the first one.
        if (_beginning) return;
        _beginning = true;
        var dir = ImageDir;
        var throughPageCache = ThroughPageCache(begin);
        _throughPageCache = throughPageCache;
        Task.Run(() =>
            // A copy that an earlier start of this target left in progress is taken up: the sender checks what it confirmed.
            new ReceiverReady(ImageReceiver.Resume(dir, new ImageHeader(begin.ImageId, begin.Source, begin.Topology), throughPageCache), replyTo)).PipeTo(Self);
    }

    /// <summary>A live migration's copy goes through the page cache; a stop-and-copy one with O_DIRECT where the engine writes so.</summary>
    private bool ThroughPageCache(BeginImage begin) => begin.Live || !_settings.DirectIo;

    private void Seal(SealImage seal)
    {
        var replyTo = Sender;
        if (_sealed)
        {
            replyTo.Tell(new ImageSealed(_migrationId, _receiver?.Bytes ?? 0));
            return;
        }
        if (_receiver is not { } receiver)
        {
            replyTo.Tell(new TargetFailed(_migrationId, _node, "write image", "sealed before any frame arrived"));
            return;
        }
        if (_sealing) return;
        _sealing = true;
        var files = seal.Files.Select(f => (f.Name, f.Size)).ToList();
        var signWith = _settings.SignWith;
        var cluster = _settings.Tls?.Authority;
        if (cluster is not null && seal.Seal is null)
        {
            _sealing = false;
            replyTo.Tell(new TargetFailed(_migrationId, _node, "verify source", "the source did not sign the image it sent"));
            return;
        }
        Task.Run(() =>
        {
            try
            {
                var copy = receiver.Commit(files, seal.Links, signWith);
                // Exactly the bytes received, against what the source signed: a copy that differs is never restored.
                if (cluster is not null)
                {
                    var received = FileDigest.Current(receiver.Directory, copy);
                    if (seal.Seal!.Check(cluster, copy.ImageId, received, seal.Links) is { } refusal)
                    {
                        refusal = seal.Seal.OlderFormat(cluster, receiver.Directory, copy, seal.Links) ?? refusal;
                        // No longer a committed image: nothing restores it, whatever happens before the rollback.
                        File.Delete(Path.Combine(receiver.Directory, ImageManifest.FileName));
                        return new TargetFailed(_migrationId, _node, "verify source", refusal);
                    }
                }
                var manifest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(receiver.Directory, ImageManifest.FileName))));
                return (object)new Sealed(receiver.Bytes, replyTo, cluster is not null ? manifest : null);
            }
            catch (Exception e) when (e is ImageException or IOException or InvalidOperationException or InvalidDataException)
            {
                return new TargetFailed(_migrationId, _node, "write image", e.Message);
            }
        }).PipeTo(Self);
    }

    private void StartRestore(StartTargetRestore start)
    {
        _coordinator = Sender;
        if (_held is { } held)
        {
            Sender.Tell(new TargetHeld(_migrationId, held.Pid, held.GpuMap));
            return;
        }
        if (_state.RestoreJobId is not null) return;
        var jobId = JobsActor.NewId(JobsActor.RestorePrefix);
        Persist(new TargetRestoreStarted(jobId), e =>
        {
            _state.Apply(e);
            var request = new RestoreRequest(ImageDir, jobId, HoldBeforeResume: true);
            // The copy was hashed whole and checked against the source's seal as it was committed: not a second time.
            // It is read back the way it was written.
            _jobs.Tell(_checkedManifest is { } sha ? new RestoreCheckedCopy(request, sha, _throughPageCache) : request, Self);
        });
    }

    private void Held(RestoreHeld held)
    {
        _restoreJob = Sender;
        _held = held.Summary;
        Context.GetLogger().Info("migration {0}: restored up to RESUME in {1:F2} s ({2})", _migrationId, held.Summary.Seconds,
            string.Join(", ", (held.Summary.Phases ?? []).Select(p => $"{p.Phase} {p.Seconds:F2} s")));
        if (_abortReason is not null)
        {
            _restoreJob.Tell(new ReleaseRestore(false, _abortReason));
            return;
        }
        if (_state.CommitSeen)
        {
            _restoreJob.Tell(new ReleaseRestore(true, "migration committed"));
            return;
        }
        _coordinator?.Tell(new TargetHeld(_migrationId, held.Summary.Pid, held.Summary.GpuMap));
    }

    private void Commit(CommitTarget commit)
    {
        if (Sender != Self && !Sender.IsNobody()) _coordinator = Sender;
        if (_state.Started is null)
        {
            Context.Stop(Self);
            return;
        }
        if (_state.Ended is { } ended)
        {
            if (ended.Pid != 0) _coordinator?.Tell(new TargetResumed(_migrationId, ended.Pid));
            return;
        }
        void Go()
        {
            if (_restoreJob is not null && _held is not null) _restoreJob.Tell(new ReleaseRestore(true, "migration committed"));
            else if (_state.RestoreJobId is { } job) _jobs.Tell(new ResumeJob(job), Self);
        }
        if (_state.CommitSeen) Go();
        else Persist(new TargetCommitSeen(), e =>
        {
            _state.Apply(e);
            Go();
        });
    }

    private void Resumed(RestoreCompleted done)
    {
        var pid = done.Summary.Pid;
        Persist(new TargetEnded(pid, $"resumed as pid {pid}"), e =>
        {
            _state.Apply(e);
            _coordinator?.Tell(new TargetResumed(_migrationId, pid));
            // The directory (and the journal's word) stay until the node has the process in its list on disk.
            Context.Parent.Tell(new ProcessArrived(_migrationId, pid, _state.Started?.From ?? "?"));
        });
    }

    private void RestoreEnded(RestoreFailed failed)
    {
        _held = null;
        _restoreJob = null;
        if (_abortReason is not null)
        {
            Discarded();
            return;
        }
        _coordinator?.Tell(new TargetFailed(_migrationId, _node, "restore", failed.Reason));
    }

    private void Abort(AbortTarget abort)
    {
        if (Sender != Self && !Sender.IsNobody()) _abortWaiters.Add(Sender);
        if (_state.Ended is not null)
        {
            Discarded();
            return;
        }
        if (_state.CommitSeen)
        {
            // After the commit the target only goes forward: the coordinator cannot have asked for this.
            Sender.Tell(new TargetFailed(_migrationId, _node, "abort", "the migration is committed; it goes forward"));
            return;
        }
        _abortReason ??= abort.Reason;
        if (_restoreJob is not null && _held is not null) _restoreJob.Tell(new ReleaseRestore(false, _abortReason));
        else if (_state.RestoreJobId is { } job && _restoreJob is null) _jobs.Tell(new ResumeJob(job), Self);
        else if (_state.RestoreJobId is null) Discarded();
    }

    private void Discarded()
    {
        if (_state.Ended is not null || _state.Started is null)
        {
            AbortDone();
            return;
        }
        if (_discarding) return;
        _discarding = true;
        _receiver?.Dispose();
        _receiver = null;
        var image = ImageDir;
        // The copy is worthless now; on a full disk, deleting it first makes room to journal that it was discarded.
        Task.Run(() =>
        {
            if (Directory.Exists(image)) Directory.Delete(image, recursive: true);
            return ImageDeleted.Instance;
        }).PipeTo(Self, failure: _ => ImageDeleted.Instance);
    }

    private void AbortDone()
    {
        foreach (var waiter in _abortWaiters) waiter.Tell(new TargetAborted(_migrationId));
        _abortWaiters.Clear();
        CleanUp(keepNothing: true);
    }

    /// <summary>The copy of the image is not kept: the process runs (or was discarded), the source holds the original.</summary>
    private void CleanUp(bool keepNothing)
    {
        _receiver?.Dispose();
        _receiver = null;
        if (keepNothing && Directory.Exists(Dir))
        {
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        }
        Context.Stop(Self);
    }

    private void Fail(string step, string reason) => _coordinator?.Tell(new TargetFailed(_migrationId, _node, step, reason));

    private sealed class Recovered
    {
        public static readonly Recovered Instance = new();
        private Recovered() { }
    }

    private sealed class ImageDeleted
    {
        public static readonly ImageDeleted Instance = new();
        private ImageDeleted() { }
    }

    private sealed class AskDecision
    {
        public static readonly AskDecision Instance = new();
        private AskDecision() { }
    }

    private sealed record ReceiverReady(ImageReceiver Receiver, IActorRef ReplyTo) : INoSerializationVerificationNeeded;

    /// <param name="CheckedManifest">The copy's manifest's SHA-256, when its files were just checked against the source's seal.</param>
    private sealed record Sealed(long Bytes, IActorRef ReplyTo, string? CheckedManifest) : INoSerializationVerificationNeeded;
}
