using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>
/// A throw-away PostgreSQL server: initdb into a temp dir, started on a free port of 127.0.0.1 with its socket in
/// that dir, one database; stopped and deleted on Dispose. As root it runs as the postgres user, which it requires.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private const string Database = "gpuckpt";
    private readonly string _bin;
    private readonly string _root;
    private readonly string _data;
    private bool _running;

    public PostgresCluster()
    {
        _bin = FindBinaries() ?? throw new InvalidOperationException(Unavailable());
        // As root the server runs as postgres, which must reach the dir: /tmp is open to all, $TMPDIR may not be.
        var parent = Environment.IsPrivilegedProcess ? "/tmp" : Path.GetTempPath();
        _root = Path.Combine(parent, $"gpuckpt-pg-{Guid.NewGuid():N}");
        _data = Path.Combine(_root, "data");
        try
        {
            Directory.CreateDirectory(_root);
            if (Environment.IsPrivilegedProcess) Run("chown", ["-R", "postgres:postgres", _root], asPostgres: false);
            Run(Path.Combine(_bin, "initdb"),
                ["-D", _data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
            Port = FreePort();
            Start();

            using var admin = new NpgsqlConnection(Connection("postgres"));
            admin.Open();
            using var create = new NpgsqlCommand($"CREATE DATABASE {Database}", admin);
            create.ExecuteNonQuery();
            ConnectionString = Connection(Database);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Port { get; }

    /// <summary>Npgsql connection string of the test database.</summary>
    public string ConnectionString { get; }

    /// <summary>Null when initdb and pg_ctl are found, else why the PostgreSQL specs cannot run.</summary>
    public static string? Unavailable()
    {
        if (FindBinaries() is not null) return null;
        return "PostgreSQL specs skipped: initdb/pg_ctl not on PATH nor in /usr/lib/postgresql/<version>/bin "
             + "(apt-get install postgresql)";
    }

    /// <summary>The directory holding initdb and pg_ctl: PATH first, then the newest Debian install.</summary>
    private static string? FindBinaries()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (var dir in path)
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
                return dir;
        const string debian = "/usr/lib/postgresql";
        if (!Directory.Exists(debian)) return null;
        return Directory.GetDirectories(debian)
            .Select(d => (Version: int.TryParse(Path.GetFileName(d), out var v) ? v : -1, Bin: Path.Combine(d, "bin")))
            .Where(d => File.Exists(Path.Combine(d.Bin, "initdb")) && File.Exists(Path.Combine(d.Bin, "pg_ctl")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Bin)
            .FirstOrDefault();
    }

    /// <summary>Starts the server (again, after <see cref="Stop"/>) on its port, with the data it had.</summary>
    public void Start()
    {
        // fsync off: the data dies with the test, durability would only cost time.
        var options = $"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off";
        Run(Path.Combine(_bin, "pg_ctl"),
            ["-D", _data, "-l", Path.Combine(_root, "server.log"), "-o", options, "-w", "start"]);
        _running = true;
    }

    /// <summary>
    /// Stops the server as an administrator would (fast shutdown: every client is disconnected, what was committed is
    /// written out), leaving its data for <see cref="Start"/>.
    /// </summary>
    public void Stop()
    {
        Run(Path.Combine(_bin, "pg_ctl"), ["-D", _data, "-m", "fast", "-w", "stop"]);
        _running = false;
    }

    private string Connection(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true";

    /// <summary>A port the kernel just handed out and released: free unless someone races us for it.</summary>
    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static void Run(string file, IReadOnlyList<string> args, bool asPostgres = true)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true };
        if (asPostgres && Environment.IsPrivilegedProcess)
        {
            start.FileName = "runuser";
            foreach (var a in new[] { "-u", "postgres", "--", file }) start.ArgumentList.Add(a);
        }
        else start.FileName = file;
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 60 s");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}{stdout.Result}");
    }

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        if (_running)
        {
            _running = false;
            Run(Path.Combine(_bin, "pg_ctl"), ["-D", _data, "-m", "immediate", "-w", "stop"]);
        }
        Directory.Delete(_root, recursive: true);
    }
}
