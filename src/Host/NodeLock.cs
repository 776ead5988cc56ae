namespace Gpuckpt.Host;

/// <summary>
/// Held by the `gpuckpt node` process that owns a state directory (its journal, keys, embedded simulator socket): an
/// exclusive lock on node.lock there, let go by the kernel when that process ends. A second node on the same directory
/// is refused, naming the directory and the holder's pid.
/// </summary>
public sealed class NodeLock : IDisposable
{
    private readonly FileStream _lock;
    private readonly string _pidFile;

    private NodeLock(FileStream held, string pidFile)
    {
        _lock = held;
        _pidFile = pidFile;
    }

    public static NodeLock Take(string stateDir)
    {
        var pidFile = Path.Combine(stateDir, "node.pid");
        var held = Engine.Checkpoint.LockFile.Hold(Path.Combine(stateDir, "node.lock"), pidFile, out var holder)
                   ?? throw new InvalidOperationException($"the state directory {stateDir} is in use by another gpuckpt node" +
                                                          $"{(holder.Length > 0 ? $" (pid {holder})" : "")}: give each node a --state-dir of its own");
        return new NodeLock(held, pidFile);
    }

    public void Dispose()
    {
        File.Delete(_pidFile);
        _lock.Dispose();
    }
}
