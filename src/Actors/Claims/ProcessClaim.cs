using Akka.Actor;
using Akka.Persistence;

namespace Gpuckpt.Actors.Claims;

/// <summary>
/// The exclusive claim on one process (host, driver, pid), held in the journal so that it survives the engine and is
/// shared by every engine on that journal. One instance does one thing and stops: it replays the claim's events,
/// then claims the process for a job (if nobody else holds it) or releases it. Two engines claiming at once both try
/// to write the same next sequence number; the journal keeps one, and the other's write fails, which refuses it.
/// </summary>
public sealed class ProcessClaim : ReceivePersistentActor
{
    /// <summary>The one thing an instance does.</summary>
    public enum Mode { Claim, Release, ReleasePaused, Unpaused, Unpausing }

    private readonly string _key;
    private readonly string _jobId;
    private readonly string? _what;
    private readonly Mode _mode;
    private readonly IActorRef _replyTo;
    private Claimed? _holder;
    private string? _pausedBy;

    public ProcessClaim(string key, string jobId, string? what, Mode mode, IActorRef replyTo)
    {
        _key = key;
        _jobId = jobId;
        _what = what;
        _mode = mode;
        _replyTo = replyTo;
        Recover<Claimed>(c => _holder = c);
        Recover<Released>(r =>
        {
            if (_holder?.JobId == r.JobId) _holder = null;
        });
        Recover<ReleasedPaused>(r =>
        {
            if (_holder?.JobId == r.JobId) _holder = null;
            _pausedBy = r.JobId;
        });
        Recover<PauseUndone>(_ => _pausedBy = null);
        Recover<RecoveryCompleted>(_ => Self.Tell(Act.Instance));
        Command<Act>(_ => Decide());
    }

    public override string PersistenceId => $"claim-{_key}";

    public static Props Claim(string key, string jobId, string what, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, what, Mode.Claim, replyTo));

    /// <summary>Lets go of the claim if <paramref name="jobId"/> holds it, then tells <paramref name="replyTo"/> <see cref="ClaimReleased"/>.</summary>
    public static Props Release(string key, string jobId, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, null, Mode.Release, replyTo));

    /// <summary>
    /// As <see cref="Release"/>, for a job that leaves its process paused: until <see cref="Unpaused"/>, every claim of a
    /// checkpoint is refused with <see cref="ClaimRefusedPaused"/>.
    /// </summary>
    public static Props ReleasePaused(string key, string jobId, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, null, Mode.ReleasePaused, replyTo));

    /// <summary>
    /// The process's pause left by a finished job is undone (UNPAUSE issued, or the process ended), by
    /// <paramref name="jobId"/>: checkpoints may claim it again. Tells <paramref name="replyTo"/> <see cref="ClaimReleased"/>.
    /// </summary>
    public static Props Unpaused(string key, string jobId, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, null, Mode.Unpaused, replyTo));

    /// <summary>
    /// Claims the process for `gpuckpt unpause` (<paramref name="jobId"/>): granted, with the job that left it paused, unless
    /// a job holds it; an unpause that died holding it is taken over (a second UNPAUSE of a running process is refused by
    /// the kernel, so unpausing stays exactly once). <see cref="Unpaused"/> then lets go of it.
    /// </summary>
    public static Props Unpausing(string key, string jobId, string what, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, what, Mode.Unpausing, replyTo));

    /// <summary>The prefix of an unpause's claim holder.</summary>
    public const string UnpausePrefix = "unpause-";

    /// <summary>The key of a process: claims hold across engines, so the host is part of it.</summary>
    public static string KeyOf(string driver, uint pid) => $"{Environment.MachineName}|{driver}|{pid}";

    private void Decide()
    {
        switch (_mode)
        {
            case Mode.Release when _holder?.JobId == _jobId:
                PersistAndStop(new Released(_jobId), new ClaimReleased(_jobId));
                return;
            case Mode.ReleasePaused when _holder?.JobId == _jobId:
                PersistAndStop(new ReleasedPaused(_jobId), new ClaimReleased(_jobId));
                return;
            case Mode.Unpaused when _pausedBy is not null || _holder?.JobId == _jobId:
                IClaimEvent[] events = [.. _pausedBy is null ? [] : new IClaimEvent[] { new PauseUndone(_jobId) },
                    .. _holder?.JobId == _jobId ? new IClaimEvent[] { new Released(_jobId) } : []];
                var left = events.Length;
                PersistAll(events, _ =>
                {
                    if (--left == 0) ReplyAndStop(new ClaimReleased(_jobId));
                });
                return;
            case Mode.Unpausing when _holder is null || _holder.JobId == _jobId || _holder.JobId.StartsWith(UnpausePrefix, StringComparison.Ordinal):
                Persist(new Claimed(_jobId, _what!), c =>
                {
                    _holder = c;
                    ReplyAndStop(new ClaimGranted(_jobId, _key, _pausedBy));
                });
                return;
            case Mode.Release or Mode.ReleasePaused or Mode.Unpaused:
                ReplyAndStop(new ClaimReleased(_jobId));
                return;
        }
        if (_holder is { } held && held.JobId != _jobId)
        {
            ReplyAndStop(new ClaimRefused(_jobId, _key, held.JobId, held.What));
            return;
        }
        if (_holder is not null)
        {
            ReplyAndStop(new ClaimGranted(_jobId, _key));
            return;
        }
        if (_pausedBy is not null)
        {
            ReplyAndStop(new ClaimRefusedPaused(_jobId, _key, _pausedBy));
            return;
        }
        Persist(new Claimed(_jobId, _what!), c =>
        {
            _holder = c;
            ReplyAndStop(new ClaimGranted(_jobId, _key));
        });
    }

    private void PersistAndStop(IClaimEvent e, object reply) => Persist(e, _ => ReplyAndStop(reply));

    private void ReplyAndStop(object reply)
    {
        _replyTo.Tell(reply);
        Context.Stop(Self);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (_mode is not (Mode.Claim or Mode.Unpausing)) _replyTo.Tell(new ClaimReleased(_jobId)); // the job answers all the same; the claim stays until it is released again
        // Another engine wrote this claim's next event first: it holds the process now.
        else if (Conflict(cause)) _replyTo.Tell(new ClaimRefused(_jobId, _key, "a job of another engine", "claimed at the same moment"));
        else _replyTo.Tell(new ClaimFailed(_jobId, _key, $"the journal could not record the claim: {JournalError(cause)}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>The journal could not be replayed (it did not start, or its file cannot be read): answer, then stop.</summary>
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        if (_what is null) _replyTo.Tell(new ClaimReleased(_jobId));
        else _replyTo.Tell(new ClaimFailed(_jobId, _key, $"the journal could not be read: {JournalError(reason)}"));
        base.OnRecoveryFailure(reason, message);
    }

    /// <summary>A write refused because the sequence number is taken: SQLite's constraint error, or the SQL plugin's duplicate key.</summary>
    private static bool Conflict(Exception cause) =>
        Causes(cause).Any(e => e is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 }
                               || e.Message.Contains("duplicate key", StringComparison.OrdinalIgnoreCase)
                               || e.Message.Contains("UNIQUE constraint", StringComparison.Ordinal));

    private static string JournalError(Exception cause) => Persistence.JournalCheck.Describe(Causes(cause).Last());

    private static IEnumerable<Exception> Causes(Exception e)
    {
        for (Exception? c = e; c is not null; c = c.InnerException) yield return c;
    }

    /// <summary>The journal is replayed: decide.</summary>
    private sealed class Act : INoSerializationVerificationNeeded
    {
        public static readonly Act Instance = new();
        private Act() { }
    }
}
