using Akka.Configuration;
using Gpuckpt.Actors.Persistence;
using Npgsql;
using Xunit.Abstractions;
using Xunit;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>The cluster journal (hocon/journal-postgres.conf) on a throw-away PostgreSQL shared by the class.</summary>
public sealed class PostgresJournalSpecs(PostgresJournalSpecs.Server server, ITestOutputHelper output)
    : JournalSpecs(output), IClassFixture<PostgresJournalSpecs.Server>
{
    protected override Config Journal() =>
        JournalConfig.Load("journal-postgres.conf", Path.GetTempPath(), server.Cluster.ConnectionString);

    protected override async Task<IReadOnlyList<long>> StoredSerializerIds(string persistenceId)
    {
        await using var connection = new NpgsqlConnection(server.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var select = new NpgsqlCommand(
            "SELECT serializer_id FROM event_journal WHERE persistence_id = @id "
            + "UNION SELECT serializer_id FROM snapshot_store WHERE persistence_id = @id ORDER BY 1", connection);
        select.Parameters.AddWithValue("id", persistenceId);
        var ids = new List<long>();
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(Convert.ToInt64(reader.GetValue(0)));
        return ids;
    }

    [PostgresFact]
    public Task Recovers_snapshot_and_later_events_after_the_system_dies_postgres() =>
        Recovers_snapshot_and_later_events_after_the_system_dies();

    [PostgresFact]
    public Task Lists_persisted_jobs_with_their_last_event_postgres() => Lists_persisted_jobs_with_their_last_event();

    [PostgresFact]
    [Trait("Tier", "Full")]
    public Task Recovery_after_100000_events_replays_only_those_after_the_snapshot_postgres() =>
        Recovery_after_100000_events_replays_only_those_after_the_snapshot();

    /// <summary>Started on first use, so a run where every fact is skipped starts no server.</summary>
    public sealed class Server : IDisposable
    {
        private readonly Lazy<PostgresCluster> _cluster = new(() => new PostgresCluster());

        public PostgresCluster Cluster => _cluster.Value;

        public void Dispose()
        {
            if (_cluster.IsValueCreated) _cluster.Value.Dispose();
        }
    }
}
