using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Trust;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Remoting with the cluster's mutual TLS, in one process: a member whose certificate the cluster's CA issued delivers;
/// a peer with a certificate from another CA, an expired one, or none at all is refused at the handshake and delivers
/// nothing.
/// </summary>
public sealed class MutualTlsSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-tls-").FullName;
    private readonly Channel<string> _inbox = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _refusals = Channel.CreateUnbounded<string>();
    private readonly List<ActorSystem> _systems = [];
    private ActorSystem _target = null!;

    private string ClusterDir => Path.Combine(_dir, "cluster");

    public Task InitializeAsync()
    {
        ClusterAuthority.Create(ClusterDir);
        _target = Start("tls-target", ClusterDir, "a");
        _target.ActorOf(Props.Create(() => new Inbox(_inbox.Writer)), "inbox");
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_member_with_a_certificate_from_the_cluster_CA_delivers()
    {
        Send(Start("tls-member", ClusterDir, "b"), "hello");

        Assert.Equal("hello", await Next(_inbox));
    }

    [Fact]
    public async Task A_peer_with_a_certificate_from_another_CA_is_refused_and_delivers_nothing()
    {
        var otherDir = Path.Combine(_dir, "other");
        ClusterAuthority.Create(otherDir);

        await RefusedThenNothingDelivered(Start("tls-stranger", otherDir, "b"));
    }

    [Fact]
    public async Task A_peer_with_an_expired_certificate_is_refused_and_delivers_nothing()
    {
        ClusterAuthority.Open(ClusterDir).Issue("old", DateTimeOffset.UtcNow.AddHours(-20), DateTimeOffset.UtcNow.AddHours(-2)).Dispose();

        await RefusedThenNothingDelivered(Start("tls-expired", ClusterDir, "old"));
    }

    [Fact]
    public async Task A_client_without_a_certificate_cannot_finish_the_handshake()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", Port(_target));
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);

        var failed = await Record.ExceptionAsync(async () =>
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "a" });
            // TLS 1.3 finishes the client's side first; the server's refusal comes with the first read.
            var read = await tls.ReadAsync(new byte[1]).AsTask().WaitAsync(Within);
            if (read == 0) throw new IOException("closed by the server");
        });

        Assert.True(failed is IOException or AuthenticationException, $"the handshake without a certificate went through: {failed}");
        Assert.False(_inbox.Reader.TryRead(out var delivered), $"delivered: {delivered}");
    }

    /// <summary>
    /// The peer sends; the handshake is refused (logged by either side) and the peer's association fails, which drops
    /// what it had queued; only then does a member send, and its message is the only one that ever arrives.
    /// </summary>
    private async Task RefusedThenNothingDelivered(ActorSystem peer)
    {
        var peerFailed = Channel.CreateUnbounded<string>();
        Watch(peer, peerFailed, "Association", "handshake", "refused");
        Send(peer, "intruder");

        var refusal = await Next(_refusals);
        await Next(peerFailed);
        Send(Start("tls-member", ClusterDir, "b"), "member");

        Assert.Contains("TLS", refusal, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("member", await Next(_inbox));
        Assert.False(_inbox.Reader.TryRead(out var more), $"also delivered: {more}");
    }

    private ActorSystem Start(string name, string clusterDir, string identity)
    {
        var config = ConfigurationFactory.ParseString($"""
                akka.actor.provider = remote
                akka.loglevel = WARNING
                akka.stdout-loglevel = OFF
                akka.remote.dot-netty.tcp.hostname = "127.0.0.1"
                akka.remote.dot-netty.tcp.port = 0
                akka.remote.retry-gate-closed-for = 1s
                gpuckpt.tls.enabled = on
                """).WithFallback(EngineConfig.Load());
        config = ClusterTls.WithDir(config, clusterDir);
        var system = ClusterTls.CreateSystem(name, config, ClusterTls.For(config, identity));
        _systems.Add(system);
        if (_systems.Count == 1) Watch(system, _refusals, "TLS");
        else Watch(system, _refusals, "refused a TLS peer");
        return system;
    }

    private void Send(ActorSystem from, string message)
    {
        var address = ((ExtendedActorSystem)_target).Provider.DefaultAddress;
        from.ActorSelection(new RootActorPath(address) / "user" / "inbox").Tell(message);
    }

    private static int Port(ActorSystem system) => ((ExtendedActorSystem)system).Provider.DefaultAddress.Port!.Value;

    private static void Watch(ActorSystem system, Channel<string> into, params string[] words)
    {
        var watcher = system.ActorOf(Props.Create(() => new LogWatch(into.Writer, words)));
        system.EventStream.Subscribe(watcher, typeof(Warning));
        system.EventStream.Subscribe(watcher, typeof(Error));
    }

    private static async Task<string> Next(Channel<string> channel)
    {
        using var cancel = new CancellationTokenSource(Within);
        return await channel.Reader.ReadAsync(cancel.Token);
    }

    public async Task DisposeAsync()
    {
        foreach (var system in _systems) await system.Terminate();
        Directory.Delete(_dir, recursive: true);
    }

    private sealed class Inbox : ReceiveActor
    {
        public Inbox(ChannelWriter<string> inbox) => Receive<string>(m => inbox.TryWrite(m));
    }

    private sealed class LogWatch : ReceiveActor
    {
        public LogWatch(ChannelWriter<string> into, string[] words) => Receive<LogEvent>(e =>
        {
            var text = e.Message?.ToString() ?? "";
            if (words.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase))) into.TryWrite(text);
        });
    }
}
