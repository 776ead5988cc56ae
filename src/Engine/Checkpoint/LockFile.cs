namespace Gpuckpt.Engine.Checkpoint;

/// <summary>An exclusive lock on a file that the kernel lets go when its process ends however it ends, and the holder's pid beside it.</summary>
public static class LockFile
{
    /// <summary>
    /// An exclusive lock on <paramref name="lockFile"/> with this process's pid in <paramref name="pidFile"/>; null, with
    /// the holder's pid (or ""), when another process holds it.
    /// </summary>
    public static FileStream? Hold(string lockFile, string pidFile, out string holder)
    {
        FileStream held;
        try
        {
            // FileShare.None is an exclusive flock(2) on Linux: one holder, gone with its process.
            held = new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            holder = File.Exists(pidFile) ? File.ReadAllText(pidFile).Trim() : "";
            return null;
        }
        holder = "";
        try
        {
            File.WriteAllText(pidFile, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            // The pid only names the holder in a refusal; the lock holds without it (the journal's own check names a full disk).
        }
        return held;
    }

    /// <summary>What a command that finds a job running says to do instead.</summary>
}
