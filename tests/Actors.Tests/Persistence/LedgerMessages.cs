namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>Persist one event per value, in order; answered with <see cref="Appended"/>.</summary>
internal sealed record Append(long[] Values);

/// <summary>All values of an <see cref="Append"/> are in the journal; the highest sequence number now.</summary>
internal sealed record Appended(long LastSequenceNr);

/// <summary>Snapshot the state, then trim the journal up to it; answered with <see cref="Snapshotted"/>.</summary>
internal sealed class TakeSnapshot
{
    public static readonly TakeSnapshot Instance = new();
    private TakeSnapshot() { }
}

/// <summary>The snapshot at <paramref name="SequenceNr"/> is stored and the events up to it are deleted.</summary>
internal sealed record Snapshotted(long SequenceNr);

/// <summary>Asks for <see cref="LedgerState"/>.</summary>
internal sealed class GetLedger
{
    public static readonly GetLedger Instance = new();
    private GetLedger() { }
}

/// <summary>The ledger's values and how its last recovery went.</summary>
internal sealed record LedgerState(long[] Values, long LastSequenceNr, long SnapshotSequenceNr, int EventsReplayed);

/// <summary>The event: one value added to the ledger.</summary>
internal sealed record ValueAdded(long Value);

/// <summary>The snapshot: every value so far.</summary>
internal sealed record LedgerSnapshot(long[] Values);
