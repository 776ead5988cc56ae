using Gpuckpt.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>The embedded journal's file: writes queued together commit together, and one that fails takes nothing else with it.</summary>
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

    private static void Insert(SqliteStore store, long key, string value)
    {
        using var insert = store.Command("INSERT INTO t (k, v) VALUES ($k, $v)");
        insert.Parameters.AddWithValue("$k", key);
        insert.Parameters.AddWithValue("$v", value);
        insert.ExecuteNonQuery();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
