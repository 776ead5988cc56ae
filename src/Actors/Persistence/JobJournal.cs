using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace Gpuckpt.Actors.Persistence;

/// <summary>One persisted job as the journal holds it: its id, its highest sequence number and the event there.</summary>
/// <param name="LastEvent">Null when every event of the id was trimmed behind a snapshot.</param>
public sealed record JournalEntry(string PersistenceId, long LastSequenceNr, object? LastEvent);

/// <summary>
/// Reads the SQL journal through its read journal (<see cref="JournalConfig.QueryPluginId"/>) without starting
/// any persistent actor: what <c>gpuckpt jobs</c> shows.
/// </summary>
public sealed class JobJournal
{
    private readonly ICurrentPersistenceIdsQuery _ids;
    private readonly ICurrentEventsByPersistenceIdQuery _events;
    private readonly IMaterializer _materializer;

    private JobJournal(ActorSystem system)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(JournalConfig.QueryPluginId);
        _ids = journal;
        _events = journal;
        _materializer = system.Materializer();
    }

    /// <summary>
    /// The read journal of <paramref name="system"/>, once its write journal has started. The SQL read journal gives
    /// the write journal only 5 s to initialize (tables, connection), which a busy host can exceed: wait for it first,
    /// for gpuckpt.jobs.journal-start-timeout, through a replay of nothing (the journal stashes it until it is ready).
    /// </summary>
    public static async Task<JobJournal> OpenAsync(ActorSystem system)
    {
        var timeout = system.Settings.Config.GetTimeSpan("gpuckpt.jobs.journal-start-timeout", TimeSpan.FromMinutes(2));
        var writer = Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(JournalConfig.JournalPluginId);
        Func<IActorRef, object> replayNothing = replyTo => new Akka.Persistence.ReplayMessages(0, 0, 0, "gpuckpt-journal-started", replyTo);
        await writer.Ask<Akka.Persistence.RecoverySuccess>(replayNothing, timeout, CancellationToken.None).ConfigureAwait(false);
        return new JobJournal(system);
    }

    /// <summary>Every persistence id in the journal, ordered by id, with its last stored event.</summary>
    public async Task<IReadOnlyList<JournalEntry>> ListAsync(CancellationToken cancellation = default)
    {
        var ids = await _ids.CurrentPersistenceIds()
            .RunWith(Sink.Seq<string>(), _materializer)
            .WaitAsync(cancellation);
        var entries = new List<JournalEntry>(ids.Count);
        foreach (var id in ids.Distinct().Order(StringComparer.Ordinal))
            entries.Add(await LastAsync(id, cancellation));
        return entries;
    }

    /// <summary>The last stored event of <paramref name="persistenceId"/>; sequence number 0 when it has none.</summary>
    public async Task<JournalEntry> LastAsync(string persistenceId, CancellationToken cancellation = default)
    {
        var last = await _events.CurrentEventsByPersistenceId(persistenceId, 0L, long.MaxValue)
            .RunWith(Sink.LastOrDefault<EventEnvelope>(), _materializer)
            .WaitAsync(cancellation);
        return last is null
            ? new JournalEntry(persistenceId, 0L, null)
            : new JournalEntry(persistenceId, last.SequenceNr, last.Event);
    }

    /// <summary>The stored events of <paramref name="persistenceId"/> in [from, to], oldest first.</summary>
    public async Task<IReadOnlyList<EventEnvelope>> EventsAsync(
        string persistenceId, long fromSequenceNr, long toSequenceNr, CancellationToken cancellation = default) =>
        await _events.CurrentEventsByPersistenceId(persistenceId, fromSequenceNr, toSequenceNr)
            .RunWith(Sink.Seq<EventEnvelope>(), _materializer)
            .WaitAsync(cancellation);
}
