using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>fsync of files and directories, and hole detection, with every result checked.</summary>
internal static partial class FileSync
{
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
    private const int SEEK_DATA = 3;
    private const int ENXIO = 6;

    public static void File(SafeFileHandle handle, string name)
    {
        if (Fsync((int)handle.DangerousGetHandle()) != 0)
            throw new IOException($"{name}: fsync failed: errno {Marshal.GetLastPInvokeError()}");
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

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);
}
