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
    private readonly string _key;
    private readonly string _jobId;
    private readonly string? _what;
    private readonly IActorRef _replyTo;
    private Claimed? _holder;

    /// <param name="what">What the job does (shown to whoever is refused); null to release the claim instead.</param>
    public ProcessClaim(string key, string jobId, string? what, IActorRef replyTo)
    {
        _key = key;
        _jobId = jobId;
        _what = what;
        _replyTo = replyTo;
        Recover<Claimed>(c => _holder = c);
        Recover<Released>(r =>
        {
            if (_holder?.JobId == r.JobId) _holder = null;
        });
        Recover<RecoveryCompleted>(_ => Self.Tell(Act.Instance));
        Command<Act>(_ => Decide());
    }

    public override string PersistenceId => $"claim-{_key}";

    public static Props Claim(string key, string jobId, string what, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, what, replyTo));

    /// <summary>Lets go of the claim if <paramref name="jobId"/> holds it, then tells <paramref name="replyTo"/> <see cref="ClaimReleased"/>.</summary>
    public static Props Release(string key, string jobId, IActorRef replyTo) =>
        Props.Create(() => new ProcessClaim(key, jobId, null, replyTo));

    /// <summary>The key of a process: claims hold across engines, so the host is part of it.</summary>
    public static string KeyOf(string driver, uint pid) => $"{Environment.MachineName}|{driver}|{pid}";

    private void Decide()
    {
        if (_what is null)
        {
            if (_holder?.JobId == _jobId)
            {
                Persist(new Released(_jobId), _ =>
                {
                    _replyTo.Tell(new ClaimReleased(_jobId));
                    Context.Stop(Self);
                });
                return;
            }
            _replyTo.Tell(new ClaimReleased(_jobId));
            Context.Stop(Self);
            return;
        }
        if (_holder is { } held && held.JobId != _jobId)
        {
            _replyTo.Tell(new ClaimRefused(_jobId, _key, held.JobId, held.What));
            Context.Stop(Self);
            return;
        }
        if (_holder is not null)
        {
            _replyTo.Tell(new ClaimGranted(_jobId, _key));
            Context.Stop(Self);
            return;
        }
        Persist(new Claimed(_jobId, _what), c =>
        {
            _holder = c;
            _replyTo.Tell(new ClaimGranted(_jobId, _key));
            Context.Stop(Self);
        });
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // Another engine wrote this claim's next event first: it holds the process now.
        if (_what is not null)
            _replyTo.Tell(new ClaimRefused(_jobId, _key, "a job of another engine", $"claimed at the same moment ({cause.Message})"));
        else
            _replyTo.Tell(new ClaimReleased(_jobId)); // the job answers all the same; the claim stays until it is released again
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>The journal is replayed: decide.</summary>
    private sealed class Act : INoSerializationVerificationNeeded
    {
        public static readonly Act Instance = new();
        private Act() { }
    }
}
