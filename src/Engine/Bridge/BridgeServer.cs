using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The engine's end of the CRIU bridge: a Unix SOCK_SEQPACKET socket in a directory only its user can enter. A peer is
/// accepted only when SO_PEERCRED says it runs as root or as the engine's own user (CRIU runs as root; the bridge is
/// handed device fds and issues KFD ops for it). Each accepted bridge is served on a thread of its own.
/// </summary>
public sealed class BridgeServer : IDisposable
{
    private readonly int _listener;
    private readonly Action<BridgeConnection> _serve;
    private readonly Action<string> _refused;
    private readonly Thread _acceptor;
    private readonly List<Thread> _sessions = [];
    private readonly uint _uid = UnixSockets.GetEuid();
    private volatile bool _stopping;

    private BridgeServer(string path, int listener, Action<BridgeConnection> serve, Action<string> refused)
    {
        SocketPath = path;
        _listener = listener;
        _serve = serve;
        _refused = refused;
        _acceptor = new Thread(Accept) { IsBackground = true, Name = "bridge-accept" };
        _acceptor.Start();
    }

    public string SocketPath { get; }

    /// <summary>The uid the peer check accepts besides root (the engine's own); a spec changes it to play a stranger.</summary>
    internal uint AllowedUid { get; set; }

    /// <summary>
    /// Listens at <paramref name="path"/> (its directory must exist; a stale socket there is replaced) and serves each
    /// accepted bridge with <paramref name="serve"/>; <paramref name="refused"/> hears of each peer turned away.
    /// </summary>
    public static BridgeServer Start(string path, Action<BridgeConnection> serve, Action<string> refused)
    {
        var fd = UnixSockets.Socket(UnixSockets.AF_UNIX, UnixSockets.SOCK_SEQPACKET | UnixSockets.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"socket(AF_UNIX, SOCK_SEQPACKET) failed: {Errno.Name(UnixSockets.LastErrno)}");
        try
        {
            if (Libc.StatPath(path) is { } stale)
            {
                if ((stale.Mode & Libc.S_IFMT) != Libc.S_IFSOCK) throw new IOException($"{path} exists and is not a socket: choose another bridge socket path");
                File.Delete(path); // a socket left by an engine that died
            }
            if (UnixSockets.BindPath(fd, path) != 0) throw new IOException($"bind to {path} failed: {Errno.Name(UnixSockets.LastErrno)}");
            if (Libc.Chmod(path, 0x180) != 0) throw new IOException($"chmod 0600 of {path} failed: {Errno.Name(Libc.LastErrno)}");
            if (UnixSockets.Listen(fd, 16) != 0) throw new IOException($"listen on {path} failed: {Errno.Name(UnixSockets.LastErrno)}");
        }
        catch
        {
            Libc.Close(fd); // already failing: the error above is the one to report
            throw;
        }
        return new BridgeServer(path, fd, serve, refused) { AllowedUid = UnixSockets.GetEuid() };
    }

    private void Accept()
    {
        while (!_stopping)
        {
            var fd = UnixSockets.Accept4(_listener, 0, 0, UnixSockets.SOCK_CLOEXEC);
            if (fd < 0)
            {
                var errno = UnixSockets.LastErrno;
                if (_stopping) return;
                if (errno is Errno.EINTR or Errno.EAGAIN) continue;
                _refused($"accept on {SocketPath} failed: {Errno.Name(errno)}");
                return;
            }
            var channel = new BridgeChannel(fd);
            string? refusal;
            if (UnixSockets.PeerCredentials(fd, out var peer) != 0)
                refusal = $"SO_PEERCRED on a bridge connection failed: {Errno.Name(UnixSockets.LastErrno)}";
            else if (peer.Uid != 0 && peer.Uid != AllowedUid)
                refusal = $"refused a bridge connection from pid {peer.Pid} running as uid {peer.Uid}: only root (CRIU) or uid {AllowedUid} may drive this engine";
            else
                refusal = null;
            if (refusal is not null)
            {
                _refused(refusal);
                channel.Dispose();
                continue;
            }
            var session = new Thread(() => Serve(channel, peer)) { IsBackground = true, Name = $"bridge-{peer.Pid}" };
            lock (_sessions) _sessions.Add(session);
            session.Start();
        }
    }

    private void Serve(BridgeChannel channel, UnixSockets.Ucred peer)
    {
        using var connection = new BridgeConnection(channel, peer.Pid, peer.Uid);
        try
        {
            connection.ReadHello();
            _serve(connection);
        }
        catch (Exception e) when (e is IOException or DriverException or InvalidOperationException)
        {
            _refused($"bridge of pid {peer.Pid}: {e.Message}");
        }
    }

    /// <summary>Stops accepting, waits for the bridges being served, removes the socket.</summary>
    public void Dispose()
    {
        _stopping = true;
        UnixSockets.Shutdown(_listener, UnixSockets.SHUT_RDWR); // wakes the blocked accept
        _acceptor.Join();
        Thread[] sessions;
        lock (_sessions) sessions = [.. _sessions];
        foreach (var s in sessions) s.Join();
        Libc.Close(_listener);
        try
        {
            File.Delete(SocketPath);
        }
        catch (IOException)
        {
            // Gone already: nothing to remove.
        }
    }
}
