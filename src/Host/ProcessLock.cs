using System.Globalization;

namespace Gpuckpt.Host;

/// <summary>
/// Held by the gpuckpt process whose job has a process in hand (a checkpoint, or its resume): an exclusive lock on a
/// file in the state directory's running/ named after the driver and the pid. Two checkpoints of one pid started at
/// once meet here, before either writes to the journal, and the second is refused naming the first job and its gpuckpt
/// process. The kernel lets the lock go when its process ends however it ends.
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

    /// <summary>Takes pid <paramref name="pid"/>'s lock on <paramref name="driver"/> for <paramref name="jobId"/>, or throws naming its holder.</summary>
    public static ProcessLock Take(string stateDir, string driver, uint pid, string jobId, TimeSpan holderWait)
    {
        var dir = Path.Combine(stateDir, "running");
        Engine.Trust.PrivateDirectory.Create(dir);
        var name = Uri.EscapeDataString($"pid-{driver}-{pid}");
        var holderFile = Path.Combine(dir, name + ".holder");
        var pidFile = Path.Combine(dir, name + ".pid");
        var held = JobLock.Hold(Path.Combine(dir, name + ".lock"), pidFile, out _);
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
