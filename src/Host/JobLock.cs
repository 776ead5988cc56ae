namespace Gpuckpt.Host;

/// <summary>
/// Held by the gpuckpt process that runs a job (checkpoint, restore, resume, abort, forget): an exclusive lock on a file
/// in the state directory's running/, which the kernel lets go when that process ends however it ends. A second process
/// that would take the same job up (a resume or abort while it still runs) is refused, naming the holder's pid, instead
/// of running the job twice on one journal. It holds on one machine; engines elsewhere on a shared journal are not seen.
/// </summary>
public sealed class JobLock : IDisposable
{
    private readonly FileStream _lock;
    private readonly string _pidFile;

    private JobLock(FileStream held, string pidFile)
    {
        _lock = held;
        _pidFile = pidFile;
    }

    /// <summary>Takes job <paramref name="jobId"/>'s lock, or throws naming the gpuckpt process that holds it and <paramref name="instead"/>.</summary>
    public static JobLock Take(string stateDir, string jobId, string instead)
    {
        var dir = Path.Combine(stateDir, "running");
        Engine.Trust.PrivateDirectory.Create(dir);
        var name = Uri.EscapeDataString(jobId);
        var pidFile = Path.Combine(dir, name + ".pid");
        var held = Engine.Checkpoint.LockFile.Hold(Path.Combine(dir, name + ".lock"), pidFile, out var holder)
                   ?? throw new InvalidOperationException($"job {jobId} is running in another gpuckpt process{(holder.Length > 0 ? $" (pid {holder})" : "")}: {instead}");
        return new JobLock(held, pidFile);
    }

    public static string StopItFirst(string jobId) =>
        $"stop it there with Ctrl-C (or SIGTERM), which leaves it interrupted, then `gpuckpt abort {jobId}` or `gpuckpt resume {jobId}`";

    public void Dispose()
    {
        File.Delete(_pidFile);
        _lock.Dispose();
    }
}
