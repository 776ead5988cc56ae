using System.Runtime.InteropServices;

namespace Gpuckpt.Emulator;

/// <summary><c>struct seccomp_notif</c>: one intercepted system call.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SeccompNotif
{
    public ulong id;
    public uint pid;
    public uint flags;
    public int nr;
    public uint arch;
    public ulong instruction_pointer;
    public fixed ulong args[6];
}

/// <summary><c>struct seccomp_notif_resp</c>: the answer, or CONTINUE to let the kernel run the call itself.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SeccompNotifResp
{
    public ulong id;
    public long val;
    public int error;
    public uint flags;
}

/// <summary><c>struct seccomp_notif_addfd</c>: an fd of ours installed in the caller's table.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SeccompNotifAddfd
{
    public ulong id;
    public uint flags;
    public uint srcfd;
    public uint newfd;
    public uint newfd_flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public nint Base;
    public nuint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int fd;
    public short events;
    public short revents;
}

/// <summary>The system calls the emulated kernel's supervisor makes: seccomp notifications, other processes' memory and files.</summary>
internal static unsafe partial class SeccompNative
{
    public const uint NotifRecv = 0xc0502100, NotifSend = 0xc0182101, NotifIdValid = 0x40082102, NotifAddfd = 0x40182103;
    public const uint UserNotifFlagContinue = 1;
    public const short PollIn = 1, PollHup = 0x10;
    public const int OCloexec = 0x80000;
    private const long SysPidfdOpen = 434, SysPidfdGetfd = 438;
    private static readonly long SysKcmp = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 272 : 312;
    public static readonly int SysIoctl = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 29 : 16;
    public static readonly int SysMmap = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 222 : 9;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "process_vm_readv", SetLastError = true)]
    private static partial nint ProcessVmReadv(int pid, IoVec* local, nuint localCount, IoVec* remote, nuint remoteCount, nuint flags);

    [LibraryImport("libc", EntryPoint = "process_vm_writev", SetLastError = true)]
    private static partial nint ProcessVmWritev(int pid, IoVec* local, nuint localCount, IoVec* remote, nuint remoteCount, nuint flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a, long b, long c, long d, long e);

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    public static int LastErrno => Marshal.GetLastPInvokeError();

    public static int PidfdOpen(int pid) => (int)Syscall(SysPidfdOpen, pid, 0, 0, 0, 0);
    public static int PidfdGetfd(int pidfd, int fd) => (int)Syscall(SysPidfdGetfd, pidfd, fd, 0, 0, 0);

    /// <summary>kcmp(KCMP_FILE): whether fd a of task p1 and fd b of task p2 are one open file (-1 when either is gone).</summary>
    public static long SameFile(int p1, int a, int p2, int b) => Syscall(SysKcmp, p1, p2, 0, a, b);

    /// <summary>The device and inode of the file a path leads to (following links, /proc/PID/fd/N included); null when it does not.</summary>
    public static (ulong Dev, ulong Ino)? FileId(string path)
    {
        var buffer = stackalloc byte[256];
        if (Statx(-100, path, 0, 0x100, buffer) != 0) return null;
        var dev = ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140);
        return (dev, *(ulong*)(buffer + 32));
    }

    /// <summary>Reads <paramref name="length"/> bytes at <paramref name="address"/> of task <paramref name="tid"/>; false when any are missing.</summary>
    public static bool Read(int tid, ulong address, byte[] into)
    {
        if (into.Length == 0) return true;
        fixed (byte* p = into)
        {
            var local = new IoVec { Base = (nint)p, Length = (nuint)into.Length };
            var remote = new IoVec { Base = (nint)address, Length = (nuint)into.Length };
            return ProcessVmReadv(tid, &local, 1, &remote, 1, 0) == into.Length;
        }
    }

    public static bool Write(int tid, ulong address, ReadOnlySpan<byte> from)
    {
        if (from.Length == 0) return true;
        fixed (byte* p = from)
        {
            var local = new IoVec { Base = (nint)p, Length = (nuint)from.Length };
            var remote = new IoVec { Base = (nint)address, Length = (nuint)from.Length };
            return ProcessVmWritev(tid, &local, 1, &remote, 1, 0) == from.Length;
        }
    }
}
