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
    public Task Recovery_after_100000_events_replays_only_those_after_the_snapshot_sqlite() =>
        Recovery_after_100000_events_replays_only_those_after_the_snapshot();
}
