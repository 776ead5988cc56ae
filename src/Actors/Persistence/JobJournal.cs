using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// Reads the journal without starting any persistent actor: what <c>gpuckpt jobs</c> shows. The embedded journal's
/// file is read directly (<see cref="SqliteJournal"/>'s tables); the SQL plugin's through its read journal
/// (<see cref="JournalConfig.QueryPluginId"/>).
/// </summary>
public abstract class JobJournal
{
    /// <summary>
    /// The reader of <paramref name="system"/>'s journal, once its write journal has started. The SQL read journal
    /// gives the write journal only 5 s to initialize (tables, connection), which a busy host can exceed: wait for it
    /// first, for gpuckpt.jobs.journal-start-timeout, through a replay of nothing (the journal stashes it until it is ready).
    /// </summary>
    public static async Task<JobJournal> OpenAsync(ActorSystem system)
    {
        var config = system.Settings.Config;
        var timeout = config.GetTimeSpan("gpuckpt.jobs.journal-start-timeout", TimeSpan.FromMinutes(2));
        var plugin = config.GetString("akka.persistence.journal.plugin", "");
        var writer = Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(plugin);
        Func<IActorRef, object> replayNothing = replyTo => new Akka.Persistence.ReplayMessages(0, 0, 0, "gpuckpt-journal-started", replyTo);
        await writer.Ask<Akka.Persistence.RecoverySuccess>(replayNothing, timeout, CancellationToken.None).ConfigureAwait(false);
        return plugin == JournalConfig.EmbeddedJournalPluginId
            ? new Embedded(system, config.GetString($"{plugin}.connection-string"))
            : new Sql(system);
    }

    /// <summary>Every persistence id in the journal (those <paramref name="include"/> accepts), ordered by id, with its last stored event.</summary>
    public abstract Task<IReadOnlyList<JournalEntry>> ListAsync(Func<string, bool>? include = null, CancellationToken cancellation = default);

    /// <summary>The last stored event of <paramref name="persistenceId"/>; sequence number 0 when it has none.</summary>
    public async Task<JournalEntry> LastAsync(string persistenceId, CancellationToken cancellation = default) =>
        Entry(persistenceId, await LastEventAsync(persistenceId, cancellation));

    private static JournalEntry Entry(string persistenceId, EventEnvelope? last) =>
        last is null ? new JournalEntry(persistenceId, 0L, null) : new JournalEntry(persistenceId, last.SequenceNr, last.Event, WrittenAt(last.Timestamp));

    /// <summary>Journals stamp events with UTC ticks; zero (or anything before 2000) is no stamp.</summary>
    public static DateTime? WrittenAt(long ticks) =>
        ticks >= new DateTime(2000, 1, 1).Ticks && ticks <= DateTime.MaxValue.Ticks ? new DateTime(ticks, DateTimeKind.Utc) : null;

    /// <summary>The stored events of <paramref name="persistenceId"/> in [from, to], oldest first.</summary>
    public abstract Task<IReadOnlyList<EventEnvelope>> EventsAsync(
        string persistenceId, long fromSequenceNr, long toSequenceNr, CancellationToken cancellation = default);

    protected abstract Task<EventEnvelope?> LastEventAsync(string persistenceId, CancellationToken cancellation);

    /// <summary>The embedded journal's file, read on a connection of its own.</summary>
    private sealed class Embedded(ActorSystem system, string connectionString) : JobJournal
    {
        public override Task<IReadOnlyList<EventEnvelope>> EventsAsync(
            string persistenceId, long fromSequenceNr, long toSequenceNr, CancellationToken cancellation = default) =>
            Read<IReadOnlyList<EventEnvelope>>(store =>
                [.. SqliteJournal.Rows(store, persistenceId, fromSequenceNr, toSequenceNr, long.MaxValue).Select(Envelope)], cancellation);

        /// <summary>The ids and the last event of each in one read of the file.</summary>
        public override Task<IReadOnlyList<JournalEntry>> ListAsync(Func<string, bool>? include = null, CancellationToken cancellation = default) =>
            Read<IReadOnlyList<JournalEntry>>(store =>
                [.. SqliteJournal.Ids(store).Where(include ?? (_ => true)).Order(StringComparer.Ordinal).Select(id => Entry(id, LastOf(store, id)))],
                cancellation);

        protected override Task<EventEnvelope?> LastEventAsync(string persistenceId, CancellationToken cancellation) =>
            Read(store => LastOf(store, persistenceId), cancellation);

        private EventEnvelope? LastOf(SqliteStore store, string persistenceId) =>
            SqliteJournal.Last(store, persistenceId) is { } row ? Envelope(row) : null;

        private EventEnvelope Envelope(SqliteJournal.Row row) =>
            new(Offset.Sequence(row.SequenceNr), row.PersistenceId, row.SequenceNr, row.Event(system.Serialization), row.Timestamp, []);

        private async Task<T> Read<T>(Func<SqliteStore, T> read, CancellationToken cancellation)
        {
            using var store = new SqliteStore(connectionString, "gpuckpt-journal-reader", SqliteJournal.Schema);
            return await store.Read(read).WaitAsync(cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>The SQL plugin's read journal.</summary>
    private sealed class Sql : JobJournal
    {
        private readonly ICurrentPersistenceIdsQuery _ids;
        private readonly ICurrentEventsByPersistenceIdQuery _events;
        private readonly IMaterializer _materializer;

        public Sql(ActorSystem system)
        {
            var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(JournalConfig.QueryPluginId);
            _ids = journal;
            _events = journal;
            _materializer = system.Materializer();
        }

        public override async Task<IReadOnlyList<EventEnvelope>> EventsAsync(
            string persistenceId, long fromSequenceNr, long toSequenceNr, CancellationToken cancellation = default) =>
            await _events.CurrentEventsByPersistenceId(persistenceId, fromSequenceNr, toSequenceNr)
                .RunWith(Sink.Seq<EventEnvelope>(), _materializer)
                .WaitAsync(cancellation);

        public override async Task<IReadOnlyList<JournalEntry>> ListAsync(Func<string, bool>? include = null, CancellationToken cancellation = default)
        {
            var ids = await _ids.CurrentPersistenceIds()
                .RunWith(Sink.Seq<string>(), _materializer)
                .WaitAsync(cancellation);
            var entries = new List<JournalEntry>(ids.Count);
            foreach (var id in ids.Distinct().Where(include ?? (_ => true)).Order(StringComparer.Ordinal))
                entries.Add(await LastAsync(id, cancellation));
            return entries;
        }

        protected override async Task<EventEnvelope?> LastEventAsync(string persistenceId, CancellationToken cancellation) =>
            await _events.CurrentEventsByPersistenceId(persistenceId, 0L, long.MaxValue)
                .RunWith(Sink.LastOrDefault<EventEnvelope>(), _materializer)
                .WaitAsync(cancellation);
    }
}
