using Akka.Configuration;
using Gpuckpt.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;
using Xunit;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>The embedded journal (hocon/journal-sqlite.conf) in a fresh state directory.</summary>
public sealed class SqliteJournalSpecs(ITestOutputHelper output) : JournalSpecs(output)
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("gpuckpt-state-").FullName;

    protected override Config Journal() => JournalConfig.Load("journal-sqlite.conf", _stateDir);

    protected override async Task<IReadOnlyList<long>> StoredSerializerIds(string persistenceId)
    {
        var ids = new SortedSet<long>();
        foreach (var (file, table) in new[] { ("jobs-journal.db", "events"), ("jobs-snapshots.db", "snapshots") })
        {
            await using var connection = new SqliteConnection($"Data Source={Path.Combine(_stateDir, file)};Mode=ReadOnly;Pooling=False");
            await connection.OpenAsync();
            await using var select = connection.CreateCommand();
            select.CommandText = $"SELECT DISTINCT serializer_id FROM {table} WHERE persistence_id = $id";
            select.Parameters.AddWithValue("$id", persistenceId);
            await using var reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        }
        return [.. ids];
    }

    protected override Task Cleanup()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_stateDir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public Task Recovers_snapshot_and_later_events_after_the_system_dies_sqlite() =>
        Recovers_snapshot_and_later_events_after_the_system_dies();

    [Fact]
    public Task Lists_persisted_jobs_with_their_last_event_sqlite() => Lists_persisted_jobs_with_their_last_event();

    [Fact]
    [Trait("Tier", "Full")]
    public Task Recovery_after_100000_events_replays_only_those_after_the_snapshot_sqlite() =>
        Recovery_after_100000_events_replays_only_those_after_the_snapshot();
}
