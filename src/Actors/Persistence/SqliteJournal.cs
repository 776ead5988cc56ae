using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Microsoft.Data.Sqlite;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// The embedded journal: events in one SQLite file (WAL, synchronous FULL), written through
/// <see cref="SqliteStore"/> (its own thread, group commit). A write of nothing but progress (<see cref="IProgressEvent"/>)
/// commits without the WAL's sync. Each event row holds what Akka's serialization made of it
/// (serializer id, manifest, bytes); trimmed events are deleted and the highest sequence number of an id survives them
/// in <c>highest</c>. Plain statements, prepared once per command: a command's start pays no query compilation.
/// </summary>
public sealed class SqliteJournal : AsyncWriteJournal
{
    /// <summary>The tables, created when the file is opened.</summary>
    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS events (
          persistence_id TEXT NOT NULL,
          sequence_nr INTEGER NOT NULL,
          timestamp INTEGER NOT NULL,
          writer_uuid TEXT NOT NULL,
          event_manifest TEXT NOT NULL,
          serializer_id INTEGER NOT NULL,
          manifest TEXT NOT NULL,
          payload BLOB NOT NULL,
          PRIMARY KEY (persistence_id, sequence_nr));
        CREATE TABLE IF NOT EXISTS highest (
          persistence_id TEXT NOT NULL PRIMARY KEY,
          sequence_nr INTEGER NOT NULL);
        """;

    private const string Columns = "sequence_nr, timestamp, writer_uuid, event_manifest, serializer_id, manifest, payload";

    private readonly SqliteStore _store;
    private readonly Akka.Serialization.Serialization _serialization;

    public SqliteJournal(Config config)
    {
        _serialization = Context.System.Serialization;
        _store = new SqliteStore(config.GetString("connection-string"), "gpuckpt-journal", Schema);
    }

    protected override void PostStop()
    {
        _store.Dispose();
        base.PostStop();
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var rows = new List<Row[]>();
        var results = new List<Exception?>();
        var now = DateTime.UtcNow.Ticks;
        var durable = false;
        foreach (var write in messages)
        {
            try
            {
                var events = (IImmutableList<IPersistentRepresentation>)write.Payload;
                rows.Add([.. events.Select(e => Serialize(e, now))]);
                durable |= events.Any(e => e.Payload is not IProgressEvent);
                results.Add(null);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Rejected: the actor hears of it and goes on; nothing of this write is stored.
                results.Add(e);
            }
        }
        if (rows.Count > 0) await _store.Write(store =>
            {
                using var insert = store.Command(
                    $"INSERT INTO events (persistence_id, {Columns}) VALUES ($id, $seq, $ts, $writer, $event_manifest, $serializer, $manifest, $payload)");
                var id = insert.Parameters.Add("$id", SqliteType.Text);
                var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
                var ts = insert.Parameters.Add("$ts", SqliteType.Integer);
                var writer = insert.Parameters.Add("$writer", SqliteType.Text);
                var eventManifest = insert.Parameters.Add("$event_manifest", SqliteType.Text);
                var serializer = insert.Parameters.Add("$serializer", SqliteType.Integer);
                var manifest = insert.Parameters.Add("$manifest", SqliteType.Text);
                var payload = insert.Parameters.Add("$payload", SqliteType.Blob);
                foreach (var row in rows.SelectMany(r => r))
                {
                    (id.Value, seq.Value, ts.Value, writer.Value) = (row.PersistenceId, row.SequenceNr, row.Timestamp, row.WriterUuid);
                    (eventManifest.Value, serializer.Value, manifest.Value, payload.Value) = (row.EventManifest, row.SerializerId, row.Manifest, row.Payload);
                    insert.ExecuteNonQuery();
                }
            }, durable);
        return [.. results];
    }

    private Row Serialize(IPersistentRepresentation e, long now)
    {
        var (serializerId, manifest, bytes) = StoredPayload.Of(_serialization, e.Payload);
        return new Row(e.PersistenceId, e.SequenceNr, e.Timestamp == 0 ? now : e.Timestamp, e.WriterGuid ?? "", e.Manifest ?? "",
            serializerId, manifest, bytes);
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        _store.Write(store =>
        {
            // The highest sequence number outlives the rows: a job trimmed to nothing still knows where it was.
            using (var keep = store.Command(
                       "INSERT INTO highest (persistence_id, sequence_nr) SELECT $id, max(sequence_nr) FROM events WHERE persistence_id = $id AND sequence_nr <= $to " +
                       "GROUP BY persistence_id ON CONFLICT (persistence_id) DO UPDATE SET sequence_nr = max(sequence_nr, excluded.sequence_nr)"))
            {
                keep.Parameters.AddWithValue("$id", persistenceId);
                keep.Parameters.AddWithValue("$to", toSequenceNr);
                keep.ExecuteNonQuery();
            }
            using var delete = store.Command("DELETE FROM events WHERE persistence_id = $id AND sequence_nr <= $to");
            delete.Parameters.AddWithValue("$id", persistenceId);
            delete.Parameters.AddWithValue("$to", toSequenceNr);
            delete.ExecuteNonQuery();
        });

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        if (max <= 0 || toSequenceNr < fromSequenceNr) return Task.CompletedTask;
        var serialization = _serialization;
        return _store.Read(store =>
        {
            foreach (var row in Rows(store, persistenceId, fromSequenceNr, toSequenceNr, max))
                recoveryCallback(new Persistent(row.Event(serialization), row.SequenceNr, persistenceId, row.EventManifest, false,
                    ActorRefs.NoSender, row.WriterUuid, row.Timestamp));
            return 0;
        });
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        _store.Read(store => Highest(store, persistenceId));

    internal static long Highest(SqliteStore store, string persistenceId)
    {
        using var select = store.Command(
            "SELECT max(s) FROM (SELECT max(sequence_nr) AS s FROM events WHERE persistence_id = $id UNION ALL SELECT sequence_nr FROM highest WHERE persistence_id = $id)");
        select.Parameters.AddWithValue("$id", persistenceId);
        return select.ExecuteScalar() is long highest ? highest : 0L;
    }

    /// <summary>The stored events of an id in [from, to], oldest first, at most <paramref name="max"/> of them.</summary>
    internal static IEnumerable<Row> Rows(SqliteStore store, string persistenceId, long from, long to, long max, bool newestFirst = false)
    {
        using var select = store.Command(
            $"SELECT {Columns} FROM events WHERE persistence_id = $id AND sequence_nr BETWEEN $from AND $to ORDER BY sequence_nr {(newestFirst ? "DESC" : "ASC")} LIMIT $max");
        select.Parameters.AddWithValue("$id", persistenceId);
        select.Parameters.AddWithValue("$from", from);
        select.Parameters.AddWithValue("$to", to);
        select.Parameters.AddWithValue("$max", max);
        using var reader = select.ExecuteReader();
        while (reader.Read())
            yield return new Row(persistenceId, reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt32(4), reader.GetString(5), (byte[])reader.GetValue(6));
    }

    /// <summary>The newest stored event of an id; null when it has none (every one trimmed, or never any).</summary>
    internal static Row? Last(SqliteStore store, string persistenceId) =>
        Rows(store, persistenceId, 0L, long.MaxValue, 1, newestFirst: true).FirstOrDefault();

    /// <summary>Every persistence id that has events or had them, ordered.</summary>
    internal static List<string> Ids(SqliteStore store)
    {
        using var select = store.Command("SELECT persistence_id FROM events UNION SELECT persistence_id FROM highest ORDER BY 1");
        using var reader = select.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read()) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>One event as stored.</summary>
    internal sealed record Row(string PersistenceId, long SequenceNr, long Timestamp, string WriterUuid, string EventManifest,
        int SerializerId, string Manifest, byte[] Payload)
    {
        public object Event(Akka.Serialization.Serialization serialization)
        {
            try
            {
                return StoredPayload.Read(serialization, SerializerId, Manifest, Payload);
            }
            catch (System.Runtime.Serialization.SerializationException e)
            {
                // A row this version cannot read (a Hyperion row whose type has changed since) is named in one line, never a crash.
                throw new System.Runtime.Serialization.SerializationException(
                    $"journal row {SequenceNr} of {PersistenceId} (serializer {SerializerId}) was written by another version of gpuckpt and cannot be read by this one " +
                    $"({e.Message.ReplaceLineEndings(" ")}); run `gpuckpt forget` on its job", e);
            }
        }
    }
}

/// <summary>What Akka's serialization makes of an event or a snapshot, as the embedded journal stores it.</summary>
internal static class StoredPayload
{
    /// <summary>Serializer id, manifest and bytes of <paramref name="payload"/> (actor refs with their full address).</summary>
    public static (int SerializerId, string Manifest, byte[] Bytes) Of(Akka.Serialization.Serialization serialization, object payload)
    {
        var serializer = serialization.FindSerializerFor(payload);
        var bytes = Akka.Serialization.Serialization.WithTransport(serialization.System, () => serializer.ToBinary(payload));
        return (serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, payload), bytes);
    }

    public static object Read(Akka.Serialization.Serialization serialization, int serializerId, string manifest, byte[] bytes) =>
        serialization.Deserialize(bytes, serializerId, manifest);
}
