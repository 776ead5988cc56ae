using Gpuckpt.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>
/// The embedded journal's file: writes queued together commit together, one that fails takes nothing else with it, and
/// a commit of progress alone does not wait for the disk.
/// </summary>
public sealed class SqliteStoreSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-store-").FullName;

    [Fact]
    public async Task Writes_queued_behind_one_another_commit_together_and_a_failing_one_fails_alone()
    {
        var file = Path.Combine(_dir, "store.db");
        using (var store = new SqliteStore($"Data Source={file}", "store-spec", "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);"))
        {
            // Hold the store's thread so that the writes below queue up and go into one transaction.
            var gate = new ManualResetEventSlim();
            var held = store.Read(_ => gate.Wait(TimeSpan.FromMinutes(1)));
            var first = store.Write(s => Insert(s, 1, "one"));
            // Inserts a row, then fails on a duplicate key: the row it did insert must go with it.
            var failing = store.Write(s =>
            {
                Insert(s, 2, "two");
                Insert(s, 1, "again");
            });
            var third = store.Write(s => Insert(s, 3, "three"));
            gate.Set();
            Assert.True(await held);

            await first;
            await third;
            var error = await Assert.ThrowsAsync<SqliteException>(() => failing);
            Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
        }

        // What another connection reads once the store is closed: exactly the writes that succeeded.
        await using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT k, v FROM t ORDER BY k";
        var rows = new List<string>();
        await using (var reader = await select.ExecuteReaderAsync())
            while (await reader.ReadAsync()) rows.Add($"{reader.GetInt64(0)}={reader.GetString(1)}");
        Assert.Equal(["1=one", "3=three"], rows);
    }

    [Fact]
    public async Task A_commit_of_progress_alone_skips_the_WALs_sync_and_one_durable_write_among_it_syncs_it_all()
    {
        var file = Path.Combine(_dir, "store.db");
        using (var store = new SqliteStore($"Data Source={file}", "store-spec", "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);"))
        {
            // The mode each commit ran with, as SQLite itself reports it: 2 is FULL (the WAL synced at commit), 1 NORMAL.
            Task<long> Mode() => store.Read(s =>
            {
                using var pragma = s.Command("PRAGMA synchronous");
                return (long)pragma.ExecuteScalar()!;
            });
            Assert.Equal(2, await Mode());

            await store.Write(s => Insert(s, 1, "progress"), durable: false);
            Assert.Equal(1, await Mode());

            // Queued together with a durable write, progress goes into a commit that syncs.
            var gate = new ManualResetEventSlim();
            var held = store.Read(_ => gate.Wait(TimeSpan.FromMinutes(1)));
            var progress = store.Write(s => Insert(s, 2, "progress"), durable: false);
            var durable = store.Write(s => Insert(s, 3, "committed"));
            gate.Set();
            Assert.True(await held);
            await Task.WhenAll(progress, durable);
            Assert.Equal(2, await Mode());
        }

        await using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY k)";
        Assert.Equal("progress,progress,committed", (string?)await select.ExecuteScalarAsync());
    }

    private static void Insert(SqliteStore store, long key, string value)
    {
        using var insert = store.Command("INSERT INTO t (k, v) VALUES ($k, $v)");
        insert.Parameters.AddWithValue("$k", key);
        insert.Parameters.AddWithValue("$v", value);
        insert.ExecuteNonQuery();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
