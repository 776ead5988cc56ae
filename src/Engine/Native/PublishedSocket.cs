using System.Net.Sockets;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Native;

/// <summary>
/// A stream listener published at a Unix socket path, for a server that clients find by that path (the simulator, the
/// resident engine). A socket file left by a server that died is replaced; one that a live server answers on is
/// refused, so a second server never takes the first one's clients. Disposing it removes the path only while it is
/// still this listener's: a server bound there since keeps its socket.
/// </summary>
public sealed class PublishedSocket : IDisposable
{
    private readonly ulong? _inode;

    private PublishedSocket(string path, Socket listener, ulong? inode)
    {
        Path = path;
        Listener = listener;
        _inode = inode;
    }

    /// <summary>The longest path a Unix socket takes (sun_path's 108 bytes, the last one NUL).</summary>
    public const int MaxPath = 107;

    public string Path { get; }
    public Socket Listener { get; }

    /// <param name="server">what serves there, for the errors: "another {server} is serving it", "another {server} took it first"</param>
    /// <param name="advice">what the user can do when a live server holds the path</param>
    public static PublishedSocket Listen(string path, string server, string advice, int backlog = 64)
    {
        path = System.IO.Path.GetFullPath(path);
        RemoveStale(path, server, advice);
        // .NET unlinks the path a socket was bound to when it is disposed, whoever holds that path by then: the
        // listener is bound to a private name beside the socket and published under the real one with link(2),
        // which never replaces what is there; the private name goes at once.
        var bound = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, $".gpuckpt-{Guid.NewGuid():N}"[..18]);
        var longest = Math.Max(System.Text.Encoding.UTF8.GetByteCount(path), System.Text.Encoding.UTF8.GetByteCount(bound));
        if (longest > MaxPath)
            throw new IOException($"cannot listen on {path}: a Unix socket's path holds at most {MaxPath} bytes, and this one (or the name it is bound under first, beside it) takes {longest}; choose a shorter directory");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(bound));
            listener.Listen(backlog);
            var linked = Libc.Link(bound, path) == 0 ? 0 : Libc.LastErrno;
            File.Delete(bound);
            if (linked != 0)
                throw new IOException($"cannot listen on {path}: {(linked == Errno.EEXIST ? $"another {server} took it first" : Errno.Name(linked))}");
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IOException)
        {
            listener.Dispose();
            throw e is IOException ? e : new IOException($"cannot listen on {path}: {e.Message}", e);
        }
        return new PublishedSocket(path, listener, Libc.StatPath(path)?.Inode);
    }

    /// <summary>Whether a server answers at <paramref name="path"/> now.</summary>
    public static bool Answers(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static void RemoveStale(string path, string server, string advice)
    {
        if (Libc.StatPath(path) is not { } found) return;
        if ((found.Mode & Libc.S_IFMT) != Libc.S_IFSOCK)
            throw new IOException($"cannot listen on {path}: a file that is not a socket is there");
        if (Answers(path)) throw new IOException($"cannot listen on {path}: another {server} is serving it ({advice})");
        File.Delete(path); // nobody listens: a dead server's socket
    }

    public void Dispose()
    {
        Listener.Dispose();
        // Only our own socket: if another process bound the path since, its socket stays.
        if (_inode is { } inode && Libc.StatPath(Path)?.Inode == inode) File.Delete(Path);
    }
}
