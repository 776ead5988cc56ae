using System.Runtime.InteropServices;
using System.Text;

namespace Gpuckpt.Engine.Native;

/// <summary>
/// AF_UNIX SOCK_SEQPACKET sockets with fds passed as SCM_RIGHTS and the peer checked with SO_PEERCRED: the CRIU bridge's
/// transport. Every call returns 0 (or a count) or -1 with errno, as the libc call does.
/// </summary>
internal static unsafe partial class UnixSockets
{
    public const int AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SO_PEERCRED = 17, SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000, MSG_TRUNC = 0x20, MSG_CTRUNC = 0x8;
    public const int SHUT_RDWR = 2;
    private const int SunPathLength = 108;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Ucred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, byte* addr, uint length);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    private static partial int Connect(int fd, byte* addr, uint length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, nint addr, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    /// <summary>bind(2) to a filesystem path; -1 with errno ENAMETOOLONG when it does not fit sun_path.</summary>
    public static int BindPath(int fd, string path) => WithAddress(path, (a, n) => Bind(fd, a, n));

    /// <summary>connect(2) to a filesystem path.</summary>
    public static int ConnectPath(int fd, string path) => WithAddress(path, (a, n) => Connect(fd, a, n));

    /// <summary>SO_PEERCRED of a connected socket: the peer's pid, uid and gid when it connected.</summary>
    public static int PeerCredentials(int fd, out Ucred credentials)
    {
        Ucred c;
        var length = (uint)sizeof(Ucred);
        var rc = GetSockOpt(fd, SOL_SOCKET, SO_PEERCRED, &c, &length);
        credentials = c;
        return rc;
    }

    /// <summary>CMSG_SPACE for <paramref name="fds"/> ints (a 16-byte cmsghdr, data padded to 8 bytes).</summary>
    public static int ControlSpace(int fds) => 16 + ((fds * sizeof(int) + 7) & ~7);

    public static int LastErrno => Marshal.GetLastPInvokeError();

    private delegate int AddressCall(byte* address, uint length);

    private static int WithAddress(string path, AddressCall call)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= SunPathLength)
        {
            Marshal.SetLastPInvokeError(36); // ENAMETOOLONG
            return -1;
        }
        var address = stackalloc byte[2 + SunPathLength];
        new Span<byte>(address, 2 + SunPathLength).Clear();
        *(ushort*)address = AF_UNIX;
        bytes.CopyTo(new Span<byte>(address + 2, SunPathLength));
        return call(address, (uint)(2 + bytes.Length + 1));
    }
}
