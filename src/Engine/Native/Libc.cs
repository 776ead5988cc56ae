using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Native;

/// <summary>The few libc calls the device backends need. Every caller checks the result and reads errno.</summary>
internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000, O_NOFOLLOW = 0x20000, O_NONBLOCK = 0x800;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_TYPE = 0x1, STATX_INO = 0x100, STATX_BLOCKS = 0x400;
    public const int S_IFMT = 0xF000, S_IFREG = 0x8000;
    public const int PROT_READ = 1, PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MADV_DONTNEED = 4, MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23;
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint addr, nuint length);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chmod(string path, uint mode);

    /// <summary>link(2): a second name for a file; fails with EEXIST rather than replace what the new name holds.</summary>
    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string existing, string newPath);

    /// <summary>statx(2) into a 256-byte struct statx; stx_mode is the u16 at offset 28 on every architecture.</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, byte* statxBuffer);

    /// <summary>
    /// The inode number and mode (type bits included) of <paramref name="path"/>, not following a final link, or null
    /// when it is absent. stx_mode is the u16 at offset 28 and stx_ino the u64 at offset 32 of struct statx.
    /// </summary>
    public static (ulong Inode, int Mode)? StatPath(string path)
    {
        var buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO, buffer) != 0) return null;
        return (*(ulong*)(buffer + 32), *(ushort*)(buffer + 28));
    }

    /// <summary>
    /// The bytes <paramref name="path"/> takes on disk (stx_blocks, the u64 at offset 48 of struct statx, in 512-byte
    /// units; a sparse file's holes take none), or 0 when it is absent.
    /// </summary>
    public static long AllocatedBytes(string path)
    {
        var buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AT_SYMLINK_NOFOLLOW, STATX_BLOCKS, buffer) != 0) return 0;
        return checked((long)*(ulong*)(buffer + 48) * 512);
    }

    public const int S_IFSOCK = 0xC000;

    public const int AtFdCwd = -100, AT_SYMLINK_NOFOLLOW = 0x100;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint addr, nuint length, int advice);

    public static int LastErrno => Marshal.GetLastPInvokeError();
}
