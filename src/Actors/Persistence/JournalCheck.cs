using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// The embedded journal's files are opened (created, their tables made) before the engine starts, so that a state
/// directory that cannot hold them is refused in one line naming the file and the cause, before any job exists or any
/// process is paused, instead of the journal actors failing to start and every job waiting on them.
/// </summary>
public static class JournalCheck
{
    private const int SqliteFull = 13;

    /// <summary>Throws an <see cref="IOException"/> naming the file when the embedded journal or snapshot store cannot be opened.</summary>
    public static void Opens(Config config)
    {
        if (config.GetString("akka.persistence.journal.plugin", "") == JournalConfig.EmbeddedJournalPluginId)
            Open(config.GetString($"{JournalConfig.EmbeddedJournalPluginId}.connection-string"), SqliteJournal.Schema);
        if (config.GetString("akka.persistence.snapshot-store.plugin", "") == JournalConfig.EmbeddedSnapshotPluginId)
            Open(config.GetString($"{JournalConfig.EmbeddedSnapshotPluginId}.connection-string"), SqliteSnapshotStore.Schema);
    }

    /// <summary>The embedded journal's file, or null when the journal is another (PostgreSQL, in memory).</summary>
    public static string? EmbeddedJournalFile(Config config) =>
        config.GetString("akka.persistence.journal.plugin", "") == JournalConfig.EmbeddedJournalPluginId
            ? new SqliteConnectionStringBuilder(config.GetString($"{JournalConfig.EmbeddedJournalPluginId}.connection-string")).DataSource
            : null;

    private static void Open(string connectionString, string schema)
    {
        var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
        try
        {
            using var store = new SqliteStore(connectionString, "gpuckpt-journal-check", schema);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new IOException($"the job journal {file} cannot be written: {Describe(e)}", e);
        }
    }

    /// <summary>The cause in a user's words: SQLite says "database or disk is full" where the disk is meant.</summary>
    public static string Describe(Exception e) => e switch
    {
        SqliteException { SqliteErrorCode: SqliteFull } => "no space left on device",
        SqliteException s => s.Message,
        _ => e.Message,
    };
}
