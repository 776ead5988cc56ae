using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Trust;

/// <summary>
/// Directories that hold what only their owner may touch (a state directory: the job journal, the image key, the
/// cluster's certificates): created 0700 whatever the umask; one that others may write is refused where it matters.
/// </summary>
public static class PrivateDirectory
{
    /// <summary>Creates <paramref name="dir"/> (and its parents) when absent; a new directory is 0700.</summary>
    public static void Create(string dir)
    {
        if (Directory.Exists(dir)) return;
        Directory.CreateDirectory(dir);
        if (Libc.Chmod(dir, 0x1c0) != 0) throw new IOException($"{dir}: chmod 0700 failed: errno {Libc.LastErrno}");
    }

    /// <summary>Throws when group or others may write <paramref name="dir"/> (they could replace the journal or the keys).</summary>
    public static void RefuseWritableByOthers(string dir, string what)
    {
        var stat = Libc.StatPath(dir) ?? throw new DirectoryNotFoundException($"{dir}: no such {what}");
        if ((stat.Mode & 0x12) != 0)
            throw new TrustException($"{dir}: the {what} is writable by others (mode 0{Convert.ToString(stat.Mode & 0xfff, 8)}); chmod 700 it");
    }
}
