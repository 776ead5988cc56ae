using System.Runtime.InteropServices;

namespace Gpuckpt.Load.Comparators;

/// <summary>Reads that must come from the disk: every cache dropped (root), or at least the named files' pages evicted.</summary>
public static partial class Caches
{
    /// <summary>
    /// As root: sync, then drop the page cache, dentries and inodes (/proc/sys/vm/drop_caches), as a cold start would
    /// find them. Otherwise every file under <paramref name="paths"/> is evicted from the page cache (they were fsynced).
    /// </summary>
    public static async Task Drop(params string[] paths)
    {
        if (Environment.IsPrivilegedProcess)
        {
            using (var sync = System.Diagnostics.Process.Start("sync") ?? throw new InvalidOperationException("could not start sync"))
                await sync.WaitForExitAsync();
            await File.WriteAllTextAsync("/proc/sys/vm/drop_caches", "3");
            return;
        }
        foreach (var path in paths)
        {
            if (File.Exists(path)) Evict(path);
            else if (Directory.Exists(path))
                foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)) Evict(file);
        }
    }

    /// <summary>Evicts a file's clean pages (it was fsynced), so that the next read comes from the disk.</summary>
    public static void Evict(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var rc = PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed);
        if (rc != 0) throw new IOException($"{path}: posix_fadvise DONTNEED failed: errno {rc}");
    }

    private const int PosixFadvDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
