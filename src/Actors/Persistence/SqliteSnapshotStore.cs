using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using Microsoft.Data.Sqlite;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// The embedded snapshot store: snapshots in a SQLite file of their own (so that writing one never waits on the
/// journal's write lock), through <see cref="SqliteStore"/>. A row holds the serializer id, manifest and bytes of the
/// snapshot and its metadata's sequence number and timestamp (ticks, UTC).
/// </summary>
public sealed class SqliteSnapshotStore : SnapshotStore
{
    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS snapshots (
          persistence_id TEXT NOT NULL,
          sequence_nr INTEGER NOT NULL,
          timestamp INTEGER NOT NULL,
          serializer_id INTEGER NOT NULL,
          manifest TEXT NOT NULL,
          payload BLOB NOT NULL,
          PRIMARY KEY (persistence_id, sequence_nr));
        """;

    /// <summary>The rows a selection criteria admits.</summary>
    private const string Admitted = "persistence_id = $id AND sequence_nr BETWEEN $min_seq AND $max_seq AND timestamp BETWEEN $min_ts AND $max_ts";

    private readonly SqliteStore _store;
    private readonly Akka.Serialization.Serialization _serialization;

    public SqliteSnapshotStore(Config config)
    {
        _serialization = Context.System.Serialization;
        _store = new SqliteStore(config.GetString("connection-string"), "gpuckpt-snapshots", Schema);
    }

    protected override void PostStop()
    {
        _store.Dispose();
        base.PostStop();
    }

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var serialization = _serialization;
        return _store.Read(store =>
        {
            using var select = store.Command($"SELECT sequence_nr, timestamp, serializer_id, manifest, payload FROM snapshots WHERE {Admitted} ORDER BY sequence_nr DESC LIMIT 1");
            Bind(select, persistenceId, criteria);
            using var reader = select.ExecuteReader();
            if (!reader.Read()) return null;
            var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1), DateTimeKind.Utc));
            var snapshot = StoredPayload.Read(serialization, reader.GetInt32(2), reader.GetString(3), (byte[])reader.GetValue(4));
            return new SelectedSnapshot(metadata, snapshot);
        });
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var (serializerId, manifest, bytes) = StoredPayload.Of(_serialization, snapshot);
        return _store.Write(store =>
        {
            using var insert = store.Command(
                "INSERT OR REPLACE INTO snapshots (persistence_id, sequence_nr, timestamp, serializer_id, manifest, payload) VALUES ($id, $seq, $ts, $serializer, $manifest, $payload)");
            insert.Parameters.AddWithValue("$id", metadata.PersistenceId);
            insert.Parameters.AddWithValue("$seq", metadata.SequenceNr);
            insert.Parameters.AddWithValue("$ts", metadata.Timestamp.ToUniversalTime().Ticks);
            insert.Parameters.AddWithValue("$serializer", serializerId);
            insert.Parameters.AddWithValue("$manifest", manifest);
            insert.Parameters.Add("$payload", SqliteType.Blob).Value = bytes;
            insert.ExecuteNonQuery();
        });
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) =>
        _store.Write(store =>
        {
            // A metadata without a timestamp names the snapshot by its sequence number alone.
            var byTime = metadata.Timestamp != DateTime.MinValue;
            using var delete = store.Command(
                $"DELETE FROM snapshots WHERE persistence_id = $id AND sequence_nr = $seq{(byTime ? " AND timestamp = $ts" : "")}");
            delete.Parameters.AddWithValue("$id", metadata.PersistenceId);
            delete.Parameters.AddWithValue("$seq", metadata.SequenceNr);
            if (byTime) delete.Parameters.AddWithValue("$ts", metadata.Timestamp.ToUniversalTime().Ticks);
            delete.ExecuteNonQuery();
        });

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        _store.Write(store =>
        {
            using var delete = store.Command($"DELETE FROM snapshots WHERE {Admitted}");
            Bind(delete, persistenceId, criteria);
            delete.ExecuteNonQuery();
        });

    private static void Bind(SqliteCommand command, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        command.Parameters.AddWithValue("$id", persistenceId);
        command.Parameters.AddWithValue("$min_seq", criteria.MinSequenceNr);
        command.Parameters.AddWithValue("$max_seq", criteria.MaxSequenceNr);
        command.Parameters.AddWithValue("$min_ts", criteria.MinTimestamp is { } min ? Ticks(min) : 0L);
        command.Parameters.AddWithValue("$max_ts", Ticks(criteria.MaxTimeStamp));
    }

    private static long Ticks(DateTime time) => time == DateTime.MaxValue || time == DateTime.MinValue ? time.Ticks : time.ToUniversalTime().Ticks;
}
