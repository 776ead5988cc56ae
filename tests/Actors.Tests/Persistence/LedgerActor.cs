using Akka.Actor;
using Akka.Persistence;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>A persistent list of values: the smallest actor that exercises events, snapshots, trimming and recovery.</summary>
public sealed class LedgerActor : ReceivePersistentActor
{
    private readonly List<long> _values = [];
    private long _snapshotSequenceNr;
    private int _eventsReplayed;
    private IActorRef? _snapshotRequester;

    public LedgerActor(string persistenceId)
    {
        PersistenceId = persistenceId;
        Recover<SnapshotOffer>(OnSnapshot);
        Recover<ValueAdded>(OnReplayed);
        Command<Append>(Handle);
        Command<TakeSnapshot>(Handle);
        Command<SaveSnapshotSuccess>(Handle);
        Command<DeleteMessagesSuccess>(Handle);
        Command<SaveSnapshotFailure>(f => FailSnapshot(f.Cause));
        Command<DeleteMessagesFailure>(f => FailSnapshot(f.Cause));
        Command<GetLedger>(Handle);
    }

    public override string PersistenceId { get; }

    public static Props Props(string persistenceId) => Akka.Actor.Props.Create(() => new LedgerActor(persistenceId));

    private void OnSnapshot(SnapshotOffer offer)
    {
        _values.Clear();
        _values.AddRange(((LedgerSnapshot)offer.Snapshot).Values);
        _snapshotSequenceNr = offer.Metadata.SequenceNr;
    }

    private void OnReplayed(ValueAdded e)
    {
        _values.Add(e.Value);
        _eventsReplayed++;
    }

    private void Handle(Append append)
    {
        var sender = Sender;
        var remaining = append.Values.Length;
        PersistAll(append.Values.Select(v => new ValueAdded(v)), e =>
        {
            _values.Add(e.Value);
            if (--remaining == 0) sender.Tell(new Appended(LastSequenceNr));
        });
    }

    private void Handle(TakeSnapshot _)
    {
        _snapshotRequester = Sender;
        SaveSnapshot(new LedgerSnapshot([.. _values]));
    }

    private void Handle(SaveSnapshotSuccess success) => DeleteMessages(success.Metadata.SequenceNr);

    private void Handle(DeleteMessagesSuccess deleted)
    {
        _snapshotRequester?.Tell(new Snapshotted(deleted.ToSequenceNr));
        _snapshotRequester = null;
    }

    private void FailSnapshot(Exception cause)
    {
        _snapshotRequester?.Tell(new Status.Failure(cause));
        _snapshotRequester = null;
    }

    private void Handle(GetLedger _) =>
        Sender.Tell(new LedgerState([.. _values], LastSequenceNr, _snapshotSequenceNr, _eventsReplayed));
}
