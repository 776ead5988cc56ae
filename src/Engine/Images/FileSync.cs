using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>fsync of files and directories, and hole detection, with every result checked.</summary>
internal static partial class FileSync
{
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
    private const int SEEK_DATA = 3;
    private const int ENXIO = 6;
    private const uint SYNC_FILE_RANGE_WRITE = 2;
    private const int POSIX_FADV_DONTNEED = 4;

    public static void File(SafeFileHandle handle, string name)
    {
        if (Fsync((int)handle.DangerousGetHandle()) != 0)
            throw new IOException($"{name}: fsync failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// Starts writing [offset, offset+length) of the file back to disk now, without waiting (sync_file_range WRITE), so
    /// the fsync at commit finds little left to do: the disk works while the copy goes on.
    /// </summary>
    public static void StartWriteback(SafeFileHandle handle, string name, long offset, long length)
    {
        if (SyncFileRange((int)handle.DangerousGetHandle(), offset, length, SYNC_FILE_RANGE_WRITE) != 0)
            throw new IOException($"{name}: sync_file_range failed: errno {Marshal.GetLastPInvokeError()}", Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Drops [offset, offset+length) of the file from the page cache (posix_fadvise DONTNEED; length 0: to its end): a
    /// restore that has read a range through the cache and checked it leaves no copy of the image behind in memory. Clean
    /// pages only go, and only those the range covers whole (a large folio that a range's end cuts stays).
    /// </summary>
    public static void DropCached(SafeFileHandle handle, string name, long offset, long length)
    {
        // posix_fadvise answers the error number itself; errno is not set.
        var error = Fadvise((int)handle.DangerousGetHandle(), offset, length, POSIX_FADV_DONTNEED);
        if (error != 0) throw new IOException($"{name}: posix_fadvise(DONTNEED) failed: errno {error}", error);
    }

    /// <summary>
    /// Replaces <paramref name="path"/> with <paramref name="bytes"/> atomically and durably (a temporary file beside it,
    /// fsync, rename, fsync of the directory): a crash leaves the old content or the new, whole. A full disk or a failed
    /// fsync leaves the old content and no temporary file. <paramref name="create"/> opens the temporary file (default:
    /// <see cref="System.IO.File.OpenHandle"/> with the process's umask).
    /// </summary>
    public static void Replace(string path, ReadOnlySpan<byte> bytes, Func<string, SafeFileHandle>? create = null)
    {
        var tmp = path + ".tmp";
        try
        {
            using (var handle = create?.Invoke(tmp) ?? System.IO.File.OpenHandle(tmp, FileMode.Create, FileAccess.Write))
            {
                RandomAccess.Write(handle, bytes, 0);
                File(handle, tmp);
            }
            System.IO.File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            System.IO.File.Delete(tmp);
            throw;
        }
        Directory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Makes a create or rename inside <paramref name="dir"/> durable: the directory entry is data too.</summary>
    public static void Directory(string dir)
    {
        var fd = Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw new IOException($"{dir}: open for fsync failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"{dir}: fsync failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>
    /// True when [offset, offset+length) of the file is a hole (reads as zeros without touching disk), so a zero
    /// segment can be checked without reading it. False when the filesystem cannot tell or data lies there.
    /// </summary>
    public static bool IsHole(SafeFileHandle handle, long offset, long length)
    {
        var next = Lseek((int)handle.DangerousGetHandle(), offset, SEEK_DATA);
        if (next < 0) return Marshal.GetLastPInvokeError() == ENXIO; // ENXIO: no data at or after offset
        return next >= offset + length;
    }

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);
}
