using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace Gpuckpt.Actors.Persistence;

/// <summary>One persisted job as the journal holds it: its id, its highest sequence number and the event there.</summary>
/// <param name="LastEvent">Null when every event of the id was trimmed behind a snapshot.</param>
/// <param name="LastWritten">When the last event was written (UTC); null when unknown.</param>
public sealed record JournalEntry(string PersistenceId, long LastSequenceNr, object? LastEvent, DateTime? LastWritten = null);
