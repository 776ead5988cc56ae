using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// One connected bridge (one CRIU process, or one restored task). Hooks arrive one at a time; while a hook waits for
/// its <see cref="Reply"/>, the bridge serves this side's requests (open, take, KFD op, close) in its own thread, which
/// is where the kernel wants them issued. Requests from several engine threads are serialised.
/// </summary>
public sealed class BridgeConnection : IDisposable
{
    private readonly BridgeChannel _channel;
    private readonly object _gate = new();
    private BridgeHookCall? _pending;
    // Hangup and Dispose come from different threads, never while the other holds the fd.
    private readonly Lock _life = new();
    private bool _disposed;

    internal BridgeConnection(BridgeChannel channel, int peerPid, uint peerUid)
    {
        _channel = channel;
        PeerPid = peerPid;
        PeerUid = peerUid;
    }

    public int PeerPid { get; }
    public uint PeerUid { get; }
    public BridgeHello Hello { get; private set; } = new(0, BridgeStage.Dump, 0, 0);

    internal void ReadHello()
    {
        var m = _channel.Receive() ?? throw new BridgeProtocolException("the bridge closed before its hello");
        CloseAll(m.Fds);
        if (m.Type != BridgeMessageType.Hello) throw new BridgeProtocolException($"the bridge began with {m.Type}, not its hello");
        Hello = BridgeHello.Decode(m.Payload);
        if (Hello.Protocol != BridgeHello.CurrentProtocol)
            throw new BridgeProtocolException($"the bridge speaks protocol {Hello.Protocol}, this engine {BridgeHello.CurrentProtocol}: rebuild gpuckpt and its bridge together");
    }

    /// <summary>The next hook, or null when the bridge has gone (CRIU ended).</summary>
    public BridgeHookArrived? NextHook()
    {
        lock (_gate)
        {
            if (_pending is not null) throw new InvalidOperationException($"hook {_pending.Hook} has not been replied to");
            var m = _channel.Receive();
            if (m is null) return null;
            if (m.Type != BridgeMessageType.Hook || m.Fds.Length > 1)
            {
                CloseAll(m.Fds);
                throw new BridgeProtocolException($"expected a hook, got {m.Type} with {m.Fds.Length} fds");
            }
            _pending = BridgeHookCall.Decode(m.Payload);
            return new BridgeHookArrived(_pending, m.Fds.Length == 1 ? m.Fds[0] : -1);
        }
    }

    /// <summary>Answers the pending hook: CRIU gets <see cref="BridgeReply.Rc"/>.</summary>
    public void Reply(BridgeReply reply)
    {
        lock (_gate)
        {
            if (_pending is null) throw new InvalidOperationException("no hook is waiting for a reply");
            _pending = null;
            _channel.Send(BridgeMessageType.Reply, reply.Encode());
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> in the bridge's process: its slot there, this process's copy of the fd, and the fd's
    /// number in the bridge's process (what KFD RESTORE, issued there, is told a render file by).
    /// </summary>
    public (int Slot, int Fd, int RemoteFd) Open(string path, int flags)
    {
        var (result, fds) = Request(BridgeMessageType.Open, BridgeRequests.Open(path, flags));
        var (slot, fd) = SlotAndFd(result, fds, "open", path);
        if (result.Body.Length != sizeof(int))
        {
            CloseAll([fd]);
            throw new BridgeProtocolException($"open of {path}: the bridge answered a {result.Body.Length}-byte body, not its fd's number");
        }
        return (slot, fd, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(result.Body));
    }

    /// <summary>Takes fd <paramref name="fd"/> of task <paramref name="pid"/> (pidfd_getfd in the bridge, CRIU's tracer).</summary>
    public (int Slot, int Fd) Take(int pid, int fd)
    {
        var (result, fds) = Request(BridgeMessageType.Take, BridgeRequests.Take(pid, fd));
        return SlotAndFd(result, fds, "pidfd_getfd", $"fd {fd} of pid {pid}");
    }

    /// <summary>Closes the bridge's slot; 0 or an errno.</summary>
    public int Close(int slot)
    {
        var (result, fds) = Request(BridgeMessageType.Close, BridgeRequests.Close(slot));
        CloseAll(fds);
        return result.Error;
    }

    /// <summary>
    /// AMDKFD_IOC_CRIU_OP on the bridge's slot, issued by the bridge. Returns 0 or the errno; the spans come back as the
    /// kernel left them, and the dmabuf fds it returned (CHECKPOINT, RESTORE) arrive in bucket order as this process's fds.
    /// </summary>
    public int KfdOp(int slot, ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> priv, out int[] dmabufFds)
    {
        var (result, fds) = Request(BridgeMessageType.KfdOp, BridgeRequests.KfdOp(slot, args, devices, bos, priv));
        dmabufFds = fds;
        if (result.Error != 0)
        {
            CloseAll(fds);
            dmabufFds = [];
            return result.Error;
        }
        try
        {
            BridgeRequests.ReadKfdOpResult(result.Body, ref args, devices, bos, priv);
        }
        catch
        {
            CloseAll(fds);
            throw;
        }
        return 0;
    }

    private (BridgeResult Result, int[] Fds) Request(BridgeMessageType type, byte[] payload)
    {
        lock (_gate)
        {
            if (_pending is null) throw new InvalidOperationException($"{type}: the bridge serves requests only while a hook waits for its reply");
            _channel.Send(type, payload);
            var m = _channel.Receive() ?? throw new BridgeProtocolException($"the bridge closed while serving {type}");
            if (m.Type != BridgeMessageType.Result)
            {
                CloseAll(m.Fds);
                throw new BridgeProtocolException($"the bridge answered {type} with {m.Type}");
            }
            return (BridgeResult.Decode(m.Payload), m.Fds);
        }
    }

    private static (int Slot, int Fd) SlotAndFd(BridgeResult result, int[] fds, string op, string what)
    {
        if (result.Error != 0)
        {
            CloseAll(fds);
            throw new DriverException(result.Error, op, what, detail: "in the CRIU bridge's process");
        }
        if (fds.Length != 1 || result.Slot < 0)
        {
            CloseAll(fds);
            throw new BridgeProtocolException($"{op} of {what}: the bridge answered slot {result.Slot} with {fds.Length} fds");
        }
        return (result.Slot, fds[0]);
    }

    internal static void CloseAll(IEnumerable<int> fds)
    {
        foreach (var fd in fds) Libc.Close(fd); // fds nobody will use: a failing close changes nothing
    }

    /// <summary>
    /// Ends the connection from this side (shutdown, both ways): a restored task keeps its end open as it runs on, and
    /// its hooks are over once CRIU's restore ends. The thread serving it sees the bridge gone.
    /// </summary>
    public void Hangup()
    {
        lock (_life)
        {
            if (_disposed) return; // the bridge went first: nothing is left to hang up
            if (UnixSockets.Shutdown(_channel.Fd, UnixSockets.SHUT_RDWR) != 0 && UnixSockets.LastErrno != Errno.ENOTCONN)
                throw new IOException($"shutdown of the bridge socket of pid {PeerPid} failed: {Errno.Name(UnixSockets.LastErrno)}");
        }
    }

    public void Dispose()
    {
        lock (_life)
        {
            _disposed = true;
            _channel.Dispose();
        }
    }
}
