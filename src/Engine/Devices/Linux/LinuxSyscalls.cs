using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>The Linux calls beyond <see cref="Native.Libc"/> this backend needs: pidfds, kcmp, ptrace, waitpid and statx.</summary>
internal static unsafe partial class LinuxSyscalls
{
    // Syscall numbers shared by x86_64 and arm64 (allocated after the tables were unified).
    private const long SysPidfdOpen = 434, SysPidfdGetfd = 438;
    private static readonly long SysKcmp = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 272 : 312;
    private const int KcmpFile = 0;
    public const int PtraceCont = 7, PtraceDetach = 17, PtraceSeize = 0x4206, PtraceInterrupt = 0x4207, PtraceListen = 0x4208;
    public const int WNoHang = 1, WAll = 0x40000000;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall5(long number, long a, long b, long c, long d, long e);

    [LibraryImport("libc", EntryPoint = "ptrace", SetLastError = true)]
    private static partial long Ptrace(long request, int pid, nint addr, nint data);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, int* status, int options);

    /// <summary>kcmp(KCMP_FILE): 0 when fd <paramref name="a"/> and fd <paramref name="b"/> of process <paramref name="pid"/> are one open file.</summary>
    public static long SameFile(uint pid, int a, int b) => Syscall5(SysKcmp, pid, pid, KcmpFile, a, b);

    /// <summary>ptrace(2) with an integer argument; 0 or -1 and errno.</summary>
    public static long Ptrace(int request, uint pid, long data = 0) => Ptrace(request, (int)pid, 0, (nint)data);

    /// <summary>waitpid(2): the pid reaped, 0 when nothing changed (WNOHANG), -1 and errno on failure.</summary>
    public static int WaitPid(uint pid, out int status, int options)
    {
        int s;
        var rc = WaitPid((int)pid, &s, options);
        status = s;
        return rc;
    }
    private const int AtEmptyPath = 0x1000;
    private const uint StatxIno = 0x100;
    private const int StatxInoOffset = 32, StatxSize = 256;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a, long b, long c);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>pidfd_open(2): a file descriptor for process <paramref name="pid"/>; -1 and errno on failure.</summary>
    public static int PidfdOpen(uint pid) => (int)Syscall(SysPidfdOpen, pid, 0, 0);

    /// <summary>pidfd_getfd(2): a duplicate of the target's fd, sharing its open file (needs ptrace-attach rights).</summary>
    public static int PidfdGetfd(int pidfd, int targetFd) => (int)Syscall(SysPidfdGetfd, pidfd, targetFd, 0);

    /// <summary>The inode of an open file (statx with AT_EMPTY_PATH); returns 0 or an errno.</summary>
    public static int Inode(int fd, out ulong inode)
    {
        var buffer = stackalloc byte[StatxSize];
        inode = 0;
        if (Statx(fd, "", AtEmptyPath, StatxIno, buffer) != 0) return Marshal.GetLastPInvokeError();
        inode = *(ulong*)(buffer + StatxInoOffset);
        return 0;
    }

    public static int LastErrno => Marshal.GetLastPInvokeError();
}
