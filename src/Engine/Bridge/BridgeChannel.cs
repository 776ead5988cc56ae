using System.Buffers.Binary;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// One end of a bridge socket (AF_UNIX, SOCK_SEQPACKET): messages split into packets of at most
/// <see cref="MaxPayload"/> bytes and <see cref="MaxFds"/> fds (the kernel's SCM_MAX_FD), flagged while more follow.
/// Not thread-safe: the connection that owns it serialises its use.
/// </summary>
public sealed unsafe class BridgeChannel : IDisposable
{
    public const uint Magic = 0x52424347;
    public const int HeaderSize = 16;
    public const int MaxPayload = 32 * 1024;
    public const int MaxFds = 253;
    private const ushort FlagMore = 1;

    private readonly byte[] _packet = new byte[HeaderSize + MaxPayload];
    private readonly byte[] _control = new byte[UnixSockets.ControlSpace(MaxFds)];
    private int _fd;

    public BridgeChannel(int fd) => _fd = fd;

    /// <summary>The socket's fd.</summary>
    public int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(BridgeChannel));

    /// <summary>Connects to a bridge server at <paramref name="path"/> (what the bridge does; the specs play it).</summary>
    public static BridgeChannel Connect(string path)
    {
        var fd = UnixSockets.Socket(UnixSockets.AF_UNIX, UnixSockets.SOCK_SEQPACKET | UnixSockets.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"socket(AF_UNIX, SOCK_SEQPACKET) failed: {Devices.Errno.Name(UnixSockets.LastErrno)}");
        if (UnixSockets.ConnectPath(fd, path) != 0)
        {
            var errno = UnixSockets.LastErrno;
            Libc.Close(fd); // already failing: the connect error is the one to report
            throw new IOException($"connect to {path} failed: {Devices.Errno.Name(errno)}");
        }
        return new BridgeChannel(fd);
    }

    /// <summary>Sends one message; the fds stay open here (SCM_RIGHTS gives the peer its own).</summary>
    public void Send(BridgeMessageType type, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        int sent = 0, fdsSent = 0;
        do
        {
            var n = Math.Min(payload.Length - sent, MaxPayload);
            var k = Math.Min(fds.Length - fdsSent, MaxFds);
            var more = sent + n < payload.Length || fdsSent + k < fds.Length;
            BinaryPrimitives.WriteUInt32LittleEndian(_packet, Magic);
            BinaryPrimitives.WriteUInt16LittleEndian(_packet.AsSpan(4), (ushort)type);
            BinaryPrimitives.WriteUInt16LittleEndian(_packet.AsSpan(6), more ? FlagMore : (ushort)0);
            BinaryPrimitives.WriteUInt32LittleEndian(_packet.AsSpan(8), (uint)n);
            BinaryPrimitives.WriteUInt32LittleEndian(_packet.AsSpan(12), (uint)k);
            payload.Slice(sent, n).CopyTo(_packet.AsSpan(HeaderSize));
            SendPacket(HeaderSize + n, fds.Slice(fdsSent, k));
            sent += n;
            fdsSent += k;
        }
        while (sent < payload.Length || fdsSent < fds.Length);
    }

    private void SendPacket(int length, ReadOnlySpan<int> fds)
    {
        fixed (byte* packet = _packet)
        fixed (byte* control = _control)
        {
            var iov = new UnixSockets.IoVec { Base = packet, Length = (nuint)length };
            var msg = new UnixSockets.MsgHdr { Iov = &iov, IovLength = 1 };
            if (fds.Length > 0)
            {
                var space = UnixSockets.ControlSpace(fds.Length);
                new Span<byte>(control, space).Clear();
                // struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the fds.
                *(ulong*)control = (ulong)(16 + fds.Length * sizeof(int));
                *(int*)(control + 8) = UnixSockets.SOL_SOCKET;
                *(int*)(control + 12) = UnixSockets.SCM_RIGHTS;
                fds.CopyTo(new Span<int>(control + 16, fds.Length));
                msg.Control = control;
                msg.ControlLength = (nuint)space;
            }
            nint rc;
            do rc = UnixSockets.SendMsg(Fd, &msg, UnixSockets.MSG_NOSIGNAL);
            while (rc < 0 && UnixSockets.LastErrno == Devices.Errno.EINTR);
            if (rc < 0) throw new BridgeProtocolException($"sendmsg on the bridge socket failed: {Devices.Errno.Name(UnixSockets.LastErrno)}");
        }
    }

    /// <summary>Receives one whole message; null when the peer closed the socket between messages.</summary>
    public BridgeMessage? Receive()
    {
        using var payload = new MemoryStream();
        var fds = new List<int>();
        ushort? type = null;
        try
        {
            for (;;)
            {
                var (length, got) = ReceivePacket(fds);
                if (length == 0)
                {
                    if (type is null) return null;
                    throw new BridgeProtocolException("the bridge socket closed in the middle of a message");
                }
                if (length < HeaderSize) throw new BridgeProtocolException($"a {length}-byte packet, shorter than its header");
                var magic = BinaryPrimitives.ReadUInt32LittleEndian(_packet);
                var t = BinaryPrimitives.ReadUInt16LittleEndian(_packet.AsSpan(4));
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(_packet.AsSpan(6));
                var n = BinaryPrimitives.ReadUInt32LittleEndian(_packet.AsSpan(8));
                var k = BinaryPrimitives.ReadUInt32LittleEndian(_packet.AsSpan(12));
                if (magic != Magic || n != length - HeaderSize || k != got || (type is { } first && first != t))
                    throw new BridgeProtocolException($"a packet that breaks the protocol (magic 0x{magic:x}, type {t}, length {n} of {length - HeaderSize}, fds {k} of {got})");
                type = t;
                payload.Write(_packet, HeaderSize, (int)n);
                if ((flags & FlagMore) == 0) return new BridgeMessage((BridgeMessageType)t, payload.ToArray(), [.. fds]);
            }
        }
        catch
        {
            foreach (var fd in fds) Libc.Close(fd); // already failing: the fds of a broken message are nobody's
            throw;
        }
    }

    private (int Length, int Fds) ReceivePacket(List<int> fds)
    {
        fixed (byte* packet = _packet)
        fixed (byte* control = _control)
        {
            var iov = new UnixSockets.IoVec { Base = packet, Length = (nuint)_packet.Length };
            var msg = new UnixSockets.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)_control.Length };
            nint rc;
            do rc = UnixSockets.RecvMsg(Fd, &msg, UnixSockets.MSG_CMSG_CLOEXEC);
            while (rc < 0 && UnixSockets.LastErrno == Devices.Errno.EINTR);
            if (rc < 0) throw new BridgeProtocolException($"recvmsg on the bridge socket failed: {Devices.Errno.Name(UnixSockets.LastErrno)}");
            var got = 0;
            for (nuint offset = 0; offset + 16 <= msg.ControlLength;)
            {
                var cmsgLength = *(ulong*)(control + offset);
                if (cmsgLength < 16) break;
                if (*(int*)(control + offset + 8) == UnixSockets.SOL_SOCKET && *(int*)(control + offset + 12) == UnixSockets.SCM_RIGHTS)
                {
                    var count = (int)((cmsgLength - 16) / sizeof(int));
                    for (var i = 0; i < count; i++) fds.Add(*(int*)(control + offset + 16 + (nuint)(i * sizeof(int))));
                    got += count;
                }
                offset += (nuint)((cmsgLength + 7) & ~7UL);
            }
            if ((msg.Flags & (UnixSockets.MSG_TRUNC | UnixSockets.MSG_CTRUNC)) != 0)
                throw new BridgeProtocolException($"a truncated packet on the bridge socket (flags 0x{msg.Flags:x})");
            return ((int)rc, got);
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0 && Libc.Close(fd) != 0) throw new IOException($"close of the bridge socket failed: {Devices.Errno.Name(Libc.LastErrno)}");
    }
}
