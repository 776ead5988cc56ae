using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// One SQLite file of the embedded journal, served by a thread of its own: every statement runs there, on one
/// connection, so no actor thread waits on the disk. Writes that queue up while a transaction commits go into the next
/// transaction together (group commit: one WAL sync for all of them), each in a savepoint of its own, so that one that
/// fails fails alone. A transaction whose writes are none of them durable commits without the sync (synchronous NORMAL):
/// the next durable commit syncs the WAL, and it with the rest.
/// </summary>
internal sealed class SqliteStore : IDisposable
{
    private readonly BlockingCollection<Work> _queue = new();
    private readonly SqliteConnection _connection;
    private readonly Thread _thread;
    private SqliteTransaction? _transaction;
    private bool _syncing = true;

    /// <param name="schema">Statements run once at open (CREATE TABLE IF NOT EXISTS ...).</param>
    public SqliteStore(string connectionString, string name, string schema)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = false };
        if (builder.DataSource is { Length: > 0 } file && builder.Mode != SqliteOpenMode.Memory && file != ":memory:")
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        File = builder.DataSource;
        _connection = new SqliteConnection(builder.ToString());
        try
        {
            _connection.Open();
            Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
            Execute(schema);
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
        _thread = new Thread(Serve) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>The database file.</summary>
    public string File { get; }

    /// <summary>Runs <paramref name="read"/> on the store's thread.</summary>
    public async Task<T> Read<T>(Func<SqliteStore, T> read)
    {
        var work = new Work(c => read(c), Grouped: false, Durable: false);
        Enqueue(work);
        return (T)(await work.Done.Task.ConfigureAwait(false))!;
    }

    /// <summary>
    /// Runs <paramref name="write"/> on the store's thread inside a transaction, possibly shared with other writes; a
    /// write that is not <paramref name="durable"/> is answered once it is in the file, not yet once it is on the disk.
    /// </summary>
    public Task Write(Action<SqliteStore> write, bool durable = true)
    {
        var work = new Work(c => { write(c); return null; }, Grouped: true, durable);
        Enqueue(work);
        return work.Done.Task;
    }

    private void Enqueue(Work work)
    {
        try
        {
            _queue.Add(work);
        }
        catch (InvalidOperationException)
        {
            work.Done.TrySetException(new ObjectDisposedException($"journal file {File}"));
        }
    }

    private void Serve()
    {
        var group = new List<Work>();
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            if (!work.Grouped)
            {
                Run(work);
                continue;
            }
            group.Add(work);
            while (_queue.TryTake(out var next))
            {
                if (next.Grouped) group.Add(next);
                else
                {
                    Commit(group);
                    Run(next);
                }
            }
            Commit(group);
        }
    }

    private void Run(Work work)
    {
        try
        {
            work.Done.TrySetResult(work.Body(this));
        }
        catch (Exception e)
        {
            work.Done.TrySetException(e);
        }
    }

    /// <summary>The writes of <paramref name="group"/> in one transaction, each in its own savepoint; answered once it commits.</summary>
    private void Commit(List<Work> group)
    {
        if (group.Count == 0) return;
        var failed = new Exception?[group.Count];
        try
        {
            Syncing(group.Exists(w => w.Durable));
            using (var transaction = _connection.BeginTransaction())
            {
                _transaction = transaction;
                for (var i = 0; i < group.Count; i++)
                {
                    transaction.Save("w");
                    try
                    {
                        group[i].Body(this);
                        transaction.Release("w");
                    }
                    catch (Exception e) when (e is SqliteException or InvalidOperationException or ArgumentException)
                    {
                        transaction.Rollback("w");
                        transaction.Release("w");
                        failed[i] = e;
                    }
                }
                transaction.Commit();
                _transaction = null;
            }
            for (var i = 0; i < group.Count; i++)
                if (failed[i] is { } e) group[i].Done.TrySetException(e);
                else group[i].Done.TrySetResult(null);
        }
        catch (Exception e)
        {
            _transaction = null;
            foreach (var work in group) work.Done.TrySetException(e);
        }
        group.Clear();
    }

    /// <summary>Whether commits wait for the WAL's sync from now on (PRAGMA synchronous FULL) or not (NORMAL).</summary>
    private void Syncing(bool sync)
    {
        if (sync == _syncing) return;
        Execute(sync ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
        _syncing = sync;
    }

    /// <summary>A statement on the store's connection, inside the open transaction if there is one: for the store's thread only.</summary>
    public SqliteCommand Command(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = _transaction;
        return command;
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    /// <summary>Answers what is queued, then closes the file.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        if (Thread.CurrentThread != _thread) _thread.Join();
        _connection.Dispose();
        _queue.Dispose();
    }

    private sealed record Work(Func<SqliteStore, object?> Body, bool Grouped, bool Durable)
    {
        public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
