using Akka.Configuration;
using Akka.Persistence.Sql;
using Microsoft.Data.Sqlite;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// Loads a journal file of <c>hocon/</c> into the configuration of the journal, snapshot store and read side:
/// journal-sqlite.conf (the embedded journal, <see cref="SqliteJournal"/>) or journal-postgres.conf (the SQL plugin
/// and its read journal); combine it with the engine's settings:
/// <c>JournalConfig.Load("journal-sqlite.conf", dir).WithFallback(EngineConfig.Load())</c>.
/// </summary>
public static class JournalConfig
{
    /// <summary>The environment variable naming the state directory of the embedded journal.</summary>
    public const string StateDirVariable = "GPUCKPT_STATE_DIR";

    /// <summary>The environment variable that gives the connection string when the caller gives none.</summary>
    public const string PostgresVariable = "GPUCKPT_POSTGRES";

    /// <summary>The plugin ids of the embedded journal (journal-sqlite.conf).</summary>
    public const string EmbeddedJournalPluginId = "gpuckpt.persistence.journal";
    public const string EmbeddedSnapshotPluginId = "gpuckpt.persistence.snapshot-store";

    /// <summary>The plugin ids of the SQL plugin (journal-postgres.conf).</summary>
    public const string JournalPluginId = "akka.persistence.journal.sql";
    public const string SnapshotPluginId = "akka.persistence.snapshot-store.sql";
    public const string QueryPluginId = "akka.persistence.query.journal.sql";

    /// <summary>$GPUCKPT_STATE_DIR, else ~/.local/state/gpuckpt (the XDG state home).</summary>
    public static string DefaultStateDir() => DefaultStateDir(Environment.GetEnvironmentVariable);

    /// <summary><see cref="DefaultStateDir()"/> over a given environment.</summary>
    internal static string DefaultStateDir(Func<string, string?> environment)
    {
        var fromEnv = environment(StateDirVariable);
        if (!string.IsNullOrEmpty(fromEnv)) return Path.GetFullPath(fromEnv);
        var xdg = environment("XDG_STATE_HOME");
        if (!string.IsNullOrEmpty(xdg)) return Path.Combine(xdg, "gpuckpt");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".local", "state", "gpuckpt");
    }

    /// <summary>
    /// Parses <paramref name="journalConf"/> (a name in hocon/ or a path) with <c>gpuckpt.state-dir</c> set to
    /// <paramref name="stateDir"/> and, when given, <c>gpuckpt.journal.connection-string</c> set to
    /// <paramref name="connectionString"/> (else $GPUCKPT_POSTGRES, when set). The SQL plugin's defaults come last
    /// when the file uses it; SQLite files it names are created in WAL mode.
    /// </summary>
    public static Config Load(string journalConf, string stateDir, string? connectionString = null) =>
        Load(journalConf, stateDir, connectionString, Environment.GetEnvironmentVariable);

    /// <summary><see cref="Load(string, string, string?)"/> over a given environment.</summary>
    internal static Config Load(
        string journalConf, string stateDir, string? connectionString, Func<string, string?> environment)
    {
        var path = File.Exists(journalConf) ? journalConf : Path.Combine(EngineConfig.Directory(), journalConf);
        if (!File.Exists(path)) throw new FileNotFoundException($"journal configuration not found: {path}", path);
        var fullStateDir = Path.GetFullPath(stateDir);

        // Appended after the file so that these values win and the file's substitutions resolve to them.
        var text = File.ReadAllText(path) + $"\ngpuckpt.state-dir = {HoconString.Quote(fullStateDir)}\n";
        connectionString ??= environment(PostgresVariable);
        // Appended only when known: an unset optional substitution in the file would shadow a later value.
        if (!string.IsNullOrEmpty(connectionString)) text += $"gpuckpt.journal.connection-string = {HoconString.Quote(connectionString)}\n";

        Config config;
        try
        {
            config = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException)
        {
            throw new ConfigurationException(
                $"{path}: {e.Message} (a PostgreSQL journal needs ${PostgresVariable} or a connection string)", e);
        }

        if (config.GetString("akka.persistence.journal.plugin", "") == EmbeddedJournalPluginId)
        {
            foreach (var plugin in new[] { EmbeddedJournalPluginId, EmbeddedSnapshotPluginId })
                if (string.IsNullOrWhiteSpace(config.GetString($"{plugin}.connection-string", "")))
                    throw new ConfigurationException($"{path}: {plugin}.connection-string is empty");
            return config;
        }
        return WithSqlPlugin(config, path);
    }

    /// <summary>The SQL plugin's defaults under <paramref name="config"/>, its SQLite files in WAL mode, tables created once.</summary>
    private static Config WithSqlPlugin(Config config, string path)
    {
        var withDefaults = config.WithFallback(SqlPersistence.DefaultConfiguration);
        var initialized = new List<string>();
        foreach (var (plugin, tables) in new[]
                 {
                     (JournalPluginId, new[] { TableName(withDefaults, JournalPluginId, "journal"), TableName(withDefaults, JournalPluginId, "tag") }),
                     (SnapshotPluginId, new[] { TableName(withDefaults, SnapshotPluginId, "snapshot") }),
                 })
        {
            var cs = config.GetString($"{plugin}.connection-string", "");
            if (string.IsNullOrWhiteSpace(cs))
                throw new ConfigurationException(
                    $"{path}: {plugin}.connection-string is empty (set ${PostgresVariable} or pass a connection string)");
            if (config.GetString($"{plugin}.provider-name", "").StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) && PrepareSqlite(cs, tables))
                initialized.Add(plugin);
        }
        // Creating tables that exist costs the engine's start a good part of a second: only a new file needs it.
        var skip = string.Concat(initialized.Select(p => $"{p}.auto-initialize = off\n"));
        return skip.Length == 0 ? withDefaults : ConfigurationFactory.ParseString(skip).WithFallback(withDefaults);
    }

    private static string TableName(Config config, string plugin, string table) =>
        config.GetString($"{plugin}.default.{table}.table-name", table == "tag" ? "tags" : table);

    /// <summary>
    /// Creates the file's directory and turns on WAL, which the file remembers for every later connection. True when
    /// the file already holds <paramref name="tables"/> (an earlier start created them).
    /// </summary>
    private static bool PrepareSqlite(string connectionString, IReadOnlyList<string> tables)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:") return false;
        var dir = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL;";
        var mode = pragma.ExecuteScalar() as string;
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new IOException($"{builder.DataSource}: SQLite refused WAL journal mode (got '{mode}')");
        using var query = connection.CreateCommand();
        query.CommandText = $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({string.Join(", ", tables.Select((_, i) => $"$t{i}"))})";
        for (var i = 0; i < tables.Count; i++) query.Parameters.AddWithValue($"$t{i}", tables[i]);
        return Convert.ToInt32(query.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == tables.Count;
    }
}
