using Akka.Configuration;
using Gpuckpt.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>The journal files load into a working plugin configuration, and a missing setting names itself.</summary>
public sealed class JournalConfigSpecs : IDisposable
{
    private readonly string _stateDir = Path.Combine(
        Directory.CreateTempSubdirectory("gpuckpt-config-").FullName, "state dir with spaces");

    private static string? NoEnvironment(string _) => null;

    [Fact]
    public async Task Sqlite_journal_and_snapshots_live_in_separate_wal_files_under_the_state_dir()
    {
        var config = JournalConfig.Load("journal-sqlite.conf", _stateDir, null, NoEnvironment);

        Assert.Equal(JournalConfig.EmbeddedJournalPluginId, config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal(JournalConfig.EmbeddedSnapshotPluginId, config.GetString("akka.persistence.snapshot-store.plugin"));
        var journal = new SqliteConnectionStringBuilder(config.GetString($"{JournalConfig.EmbeddedJournalPluginId}.connection-string"));
        var snapshots = new SqliteConnectionStringBuilder(config.GetString($"{JournalConfig.EmbeddedSnapshotPluginId}.connection-string"));
        Assert.Equal(Path.Combine(_stateDir, "jobs-journal.db"), journal.DataSource);
        Assert.Equal(Path.Combine(_stateDir, "jobs-snapshots.db"), snapshots.DataSource);
        Assert.Equal(typeof(SqliteJournal), Type.GetType(config.GetString($"{JournalConfig.EmbeddedJournalPluginId}.class"), throwOnError: true));
        Assert.Equal(typeof(SqliteSnapshotStore), Type.GetType(config.GetString($"{JournalConfig.EmbeddedSnapshotPluginId}.class"), throwOnError: true));
        // The SQL plugin is not loaded for the embedded journal: none of its defaults are underneath.
        Assert.False(config.HasPath("akka.persistence.journal.sql.class"));

        // The files exist, in WAL mode, once each plugin has started.
        using var system = Akka.Actor.ActorSystem.Create("sqlite-files", config.WithFallback(EngineConfig.Load()));
        var persistence = Akka.Persistence.Persistence.Instance.Apply(system);
        foreach (var plugin in new[] { persistence.JournalFor(null), persistence.SnapshotStoreFor(null) })
            await Akka.Actor.Futures.Ask<Akka.Actor.ActorIdentity>(plugin, new Akka.Actor.Identify(1), TimeSpan.FromSeconds(30));
        foreach (var file in new[] { journal.DataSource, snapshots.DataSource })
            Assert.Equal("wal", JournalMode(file));
        await system.Terminate();
    }

    [Theory]
    [InlineData("journal-sqlite.conf")]
    [InlineData("journal-postgres.conf")]
    public void The_journal_files_bind_no_serializer_of_their_own(string file)
    {
        var config = JournalConfig.Load(file, _stateDir, "Host=db", NoEnvironment);

        Assert.False(config.HasPath("akka.actor.serializers"), $"{file} declares serializers");
        Assert.False(config.HasPath("akka.actor.serialization-bindings"), $"{file} binds types to serializers");
    }

    [Fact]
    public void The_in_process_serializer_hands_a_message_over_on_its_thread_and_keeps_nothing()
    {
        using var system = Akka.Actor.ActorSystem.Create("in-process", EngineConfig.Load());
        var serializer = new InProcessSerializer((Akka.Actor.ExtendedActorSystem)system);
        var message = new object();
        for (var i = 0; i < 1000; i++)
        {
            var bytes = serializer.ToBinary(message);
            Assert.Same(message, serializer.FromBinary(bytes, typeof(object)));
        }
        Assert.False(InProcessSerializer.Holding);

        // A ticket read twice, or on another thread, is refused rather than answered from a table.
        var ticket = serializer.ToBinary(message);
        Exception? elsewhere = null;
        var other = new Thread(() => elsewhere = Record.Exception(() => serializer.FromBinary(ticket, typeof(object))));
        other.Start();
        other.Join();
        Assert.IsType<System.Runtime.Serialization.SerializationException>(elsewhere);
        Assert.Same(message, serializer.FromBinary(ticket, typeof(object)));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(ticket, typeof(object)));
    }

    [Fact]
    public void Postgres_connection_string_comes_from_the_caller_else_the_environment()
    {
        const string given = "Host=db.example;Port=6543;Database=jobs;Username=u;Password=p\"q";
        const string fromEnv = "Host=env.example;Database=env";
        string? Env(string name) => name == JournalConfig.PostgresVariable ? fromEnv : null;

        var explicitly = JournalConfig.Load("journal-postgres.conf", _stateDir, given, Env);
        foreach (var plugin in new[] { "journal.sql", "snapshot-store.sql", "query.journal.sql" })
            Assert.Equal(given, explicitly.GetString($"akka.persistence.{plugin}.connection-string"));
        Assert.Equal("PostgreSQL.15", explicitly.GetString("akka.persistence.journal.sql.provider-name"));

        var byEnvironment = JournalConfig.Load("journal-postgres.conf", _stateDir, null, Env);
        Assert.Equal(fromEnv, byEnvironment.GetString("akka.persistence.journal.sql.connection-string"));
    }

    [Fact]
    public void Postgres_without_a_connection_string_names_the_file_and_the_variable()
    {
        var error = Assert.Throws<ConfigurationException>(
            () => JournalConfig.Load("journal-postgres.conf", _stateDir, null, NoEnvironment));
        Assert.Contains("journal-postgres.conf", error.Message);
        Assert.Contains("$" + JournalConfig.PostgresVariable, error.Message);
    }

    [Fact]
    public void State_dir_comes_from_the_variable_else_the_xdg_state_home()
    {
        Assert.Equal(_stateDir, JournalConfig.DefaultStateDir(n => n == JournalConfig.StateDirVariable ? _stateDir : null));
        Assert.Equal(Path.Combine(_stateDir, "gpuckpt"), JournalConfig.DefaultStateDir(n => n == "XDG_STATE_HOME" ? _stateDir : null));
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".local", "state", "gpuckpt"), JournalConfig.DefaultStateDir(NoEnvironment));
    }

    private static string? JournalMode(string file)
    {
        using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode;";
        return pragma.ExecuteScalar() as string;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(Path.GetDirectoryName(_stateDir)!, recursive: true);
    }
}
