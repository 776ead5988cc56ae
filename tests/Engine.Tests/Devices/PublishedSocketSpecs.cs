using Gpuckpt.Engine.Native;
using Xunit;

namespace Gpuckpt.Engine.Tests.Devices;

/// <summary>
/// A server's socket published at a path: one path too long for a Unix socket is refused in one line naming it; one
/// left by a server that died is replaced; one a live server answers on is refused; disposing removes only its own.
/// </summary>
public sealed class PublishedSocketSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-pub-").FullName;

    [Fact]
    public void A_path_too_long_for_a_unix_socket_is_refused_naming_it()
    {
        var deep = Path.Combine(_dir, new string('d', 100));
        Directory.CreateDirectory(deep);
        var path = Path.Combine(deep, "engine.sock");

        var refused = Assert.Throws<IOException>(() => PublishedSocket.Listen(path, "resident engine", "stop it"));

        Assert.StartsWith($"cannot listen on {path}: a Unix socket's path holds at most 107 bytes", refused.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_dead_server_s_socket_is_replaced_a_live_one_refused_and_only_its_own_removed()
    {
        var path = Path.Combine(_dir, "s.sock");
        using (var first = PublishedSocket.Listen(path, "resident engine", "stop it"))
        {
            var refused = Assert.Throws<IOException>(() => PublishedSocket.Listen(path, "resident engine", "stop it"));
            Assert.Equal($"cannot listen on {path}: another resident engine is serving it (stop it)", refused.Message);
            Assert.True(PublishedSocket.Answers(path));
        }
        Assert.False(File.Exists(path));

        // A socket file nobody listens on any more, as a killed server leaves it (bound, closed, never unlinked), is replaced.
        var dead = UnixSockets.Socket(UnixSockets.AF_UNIX, UnixSockets.SOCK_SEQPACKET, 0);
        Assert.True(dead >= 0, $"socket: errno {UnixSockets.LastErrno}");
        Assert.Equal(0, UnixSockets.BindPath(dead, path));
        Assert.Equal(0, Libc.Close(dead));
        Assert.True(File.Exists(path));
        Assert.False(PublishedSocket.Answers(path));
        using var second = PublishedSocket.Listen(path, "resident engine", "stop it");
        Assert.True(PublishedSocket.Answers(path));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
