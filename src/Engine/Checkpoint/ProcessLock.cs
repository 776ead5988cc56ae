using System.Globalization;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// Held while a job has a process in hand (a checkpoint, its resume, or a node's migration of it): an exclusive lock on a
/// file named after the driver and the pid, in one directory per machine (<see cref="Dir"/>), so that a CLI and a node
/// with state directories of their own meet on it. Two checkpoints of one pid started at once meet here, before either
/// writes to a journal, and the second is refused naming the first job and its gpuckpt process. The kernel lets the lock
/// go when its process ends however it ends.
/// </summary>
public sealed class ProcessLock : IDisposable
{
    private readonly FileStream _lock;
    private readonly string _holderFile, _pidFile;

    private ProcessLock(FileStream held, string holderFile, string pidFile)
    {
        _lock = held;
        _holderFile = holderFile;
        _pidFile = pidFile;
    }

    /// <summary>
    /// Where the locks live: /run/gpuckpt/processes for root (nodes and CRIU run as root), else (or where /run cannot take
    /// it) the user's runtime directory or a directory of the user's own under /tmp.
    /// </summary>
    public static string Dir => Chosen.Value;

    private static readonly Lazy<string> Chosen = new(() =>
    {
        var user = Path.Combine(Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime
            ? runtime
            : Path.Combine(Path.GetTempPath(), $"gpuckpt-{Environment.UserName}"), "gpuckpt-processes");
        if (!Environment.IsPrivilegedProcess) return user;
        try
        {
            Directory.CreateDirectory("/run/gpuckpt");
            return "/run/gpuckpt/processes";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return user;
        }
    });

    /// <summary>
    /// Takes pid <paramref name="pid"/>'s lock on <paramref name="driver"/> (a driver's name: <c>kfd</c>, <c>sim:SOCKET</c>)
    /// for <paramref name="jobId"/>, or throws naming its holder.
    /// </summary>
    public static ProcessLock Take(string driver, uint pid, string jobId, TimeSpan holderWait)
    {
        var dir = Dir;
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        Trust.PrivateDirectory.Create(dir);
        var name = Uri.EscapeDataString($"pid-{Key(driver)}-{pid}");
        var holderFile = Path.Combine(dir, name + ".holder");
        var pidFile = Path.Combine(dir, name + ".pid");
        var held = LockFile.Hold(Path.Combine(dir, name + ".lock"), pidFile, out _);
        if (held is null) throw new InvalidOperationException($"pid {pid} is being checkpointed by {Holder(holderFile, pidFile, holderWait)}");
        try
        {
            File.WriteAllText(holderFile, $"{jobId} {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        }
        catch (IOException)
        {
            // The line only names the holder in a refusal; the lock holds without it (the journal's own check names a full disk).
        }
        return new ProcessLock(held, holderFile, pidFile);
    }

    /// <summary>The driver as every process names it: a simulator's socket by its full path.</summary>
    public static string Key(string driver) =>
        driver.StartsWith("sim:", StringComparison.Ordinal) ? "sim:" + Path.GetFullPath(driver["sim:".Length..]) : driver;

    /// <summary>Where pid <paramref name="pid"/>'s holder line on <paramref name="driver"/> lies (a spec reads it to see who holds the pid).</summary>
    public static string HolderFile(string driver, uint pid) => Path.Combine(Dir, Uri.EscapeDataString($"pid-{Key(driver)}-{pid}") + ".holder");

    /// <summary>"job J (gpuckpt pid N)": the holder writes its line right after it takes the lock, so a refusal waits that long for it.</summary>
    private static string Holder(string holderFile, string pidFile, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var holderPid = TryRead(pidFile);
            var parts = TryRead(holderFile).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // A line left by a holder that was killed names a process that no longer runs.
            if (parts.Length == 2 && (holderPid.Length == 0 || parts[1] == holderPid) && Directory.Exists($"/proc/{parts[1]}")) return $"job {parts[0]} (gpuckpt pid {parts[1]})";
            if (DateTime.UtcNow >= deadline)
                return holderPid.Length > 0 ? $"another job (gpuckpt pid {holderPid})" : "another gpuckpt process";
            Thread.Sleep(10);
        }
    }

    private static string TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_holderFile);
            File.Delete(_pidFile);
        }
        finally
        {
            _lock.Dispose();
        }
    }
}
