using System.Net.Sockets;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Trust;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// The migration data port under the cluster's mutual TLS: a sender with the cluster's certificate gets its frames
/// through; one with another CA's certificate, or one that speaks plain TCP (even with the right token), is refused
/// before its token is read and delivers nothing. A byte changed in flight fails TLS's check of its record: the frame is
/// not delivered, and the target is told. A connection recorded on the wire and played again delivers nothing a second
/// time: its records belong to a handshake that cannot be repeated.
/// </summary>
public sealed class DataLinkTlsSpecs(ITestOutputHelper output) : TestKit(EngineConfig.Load(), "data-link-tls-spec", output), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-link-tls-").FullName;

    private ClusterTls Identity(string cluster, string name)
    {
        var dir = Path.Combine(_dir, cluster);
        if (!File.Exists(Path.Combine(dir, ClusterAuthority.CaCertificateFile))) ClusterAuthority.Create(dir);
        var config = ClusterTls.WithDir(ConfigurationFactory.ParseString("gpuckpt.tls.enabled = on"), dir);
        return ClusterTls.For(config, name)!;
    }

    [Fact]
    public async Task A_sender_of_the_cluster_gets_its_frames_through_whole_and_in_order()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log, Identity("cluster", "b"));
        var target = CreateTestProbe();
        var sender = CreateTestProbe();
        var token = listener.Register(target.Ref, sender.Ref);
        var frames = Enumerable.Range(0, 4).Select(i =>
        {
            var bytes = new byte[300_000 + i];
            new Random(100 + i).NextBytes(bytes);
            return bytes;
        }).ToList();

        using var link = FrameLink.Open("127.0.0.1", listener.Port, token, sender.Ref, Identity("cluster", "a"));
        foreach (var frame in frames) Assert.True(link.Post(frame));

        foreach (var frame in frames) Assert.Equal(frame, (await target.ExpectMsgAsync<LinkFrame>(Wait)).Bytes);
    }

    [Fact]
    public async Task A_frame_changed_in_flight_is_not_delivered_and_its_target_is_told_the_link_was_tampered_with()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log, Identity("cluster", "b"));
        using var proxy = new TcpProxy { TargetPort = listener.Port, FlipAt = 20_000 };
        proxy.Start();
        var target = CreateTestProbe();
        var owner = CreateTestProbe();
        var token = listener.Register(target.Ref, owner.Ref);
        using var link = FrameLink.Open("127.0.0.1", proxy.Port, token, owner.Ref, Identity("cluster", "a"));
        var frame = new byte[300_000];
        new Random(7).NextBytes(frame);
        Assert.True(link.Post(frame));

        // The listener learns of the change at the record it fails to decrypt: the target is told, and gets no frame.
        var tampered = await target.ExpectMsgAsync<LinkTampered>(Wait);
        Assert.Contains("changed in flight", tampered.Reason);
        Assert.Equal(1, proxy.Flipped);
        var failed = await owner.ExpectMsgAsync<LinkFailed>(Wait);
        Assert.True(failed.Connected, failed.ToString());
        Assert.False(target.HasMessages, "a frame went on arriving after the link was changed in flight");
    }

    [Fact]
    public async Task A_sender_with_another_CA_certificate_is_refused_and_delivers_nothing()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log, Identity("cluster", "b"));
        var target = CreateTestProbe();
        var owner = CreateTestProbe();
        var token = listener.Register(target.Ref, owner.Ref);

        using var link = FrameLink.Open("127.0.0.1", listener.Port, token, owner.Ref, Identity("other", "a"));
        link.Post(new byte[1000]);

        var failed = await owner.ExpectMsgAsync<LinkFailed>(Wait);
        Assert.Contains("not the cluster's", failed.Reason);
        // The link has failed and dropped its frame: nothing can still arrive from it.
        Assert.False(target.HasMessages, "a frame from a stranger was delivered");
    }

    [Fact]
    public async Task A_plain_TCP_sender_with_the_right_token_is_closed_and_delivers_nothing()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log, Identity("cluster", "b"));
        var target = CreateTestProbe();
        var token = listener.Register(target.Ref, TestActor);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", listener.Port);
        var stream = tcp.GetStream();

        // The token in clear, then one well-formed frame: the listener expects a TLS ClientHello and closes, maybe while
        // these are still being written (a broken pipe then).
        var closed = await Record.ExceptionAsync(async () =>
        {
            await stream.WriteAsync(Convert.FromHexString(token));
            await stream.WriteAsync(BitConverter.GetBytes(1000));
            await stream.WriteAsync(new byte[1000]);
            var read = await stream.ReadAsync(new byte[64]).AsTask().WaitAsync(Wait);
            while (read > 0) read = await stream.ReadAsync(new byte[64]).AsTask().WaitAsync(Wait);
        });

        Assert.True(closed is null or IOException, $"the connection did not close: {closed}");
        Assert.False(target.HasMessages, "a frame sent in clear was delivered");
    }

    [Fact]
    public async Task A_recorded_connection_played_again_to_the_data_port_delivers_nothing()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log, Identity("cluster", "b"));
        using var proxy = new TcpProxy { TargetPort = listener.Port, Record = true };
        proxy.Start();
        var target = CreateTestProbe();
        var owner = CreateTestProbe();
        var token = listener.Register(target.Ref, owner.Ref);
        var frames = Enumerable.Range(0, 3).Select(i =>
        {
            var bytes = new byte[50_000 + i];
            new Random(300 + i).NextBytes(bytes);
            return bytes;
        }).ToList();
        using (var link = FrameLink.Open("127.0.0.1", proxy.Port, token, owner.Ref, Identity("cluster", "a")))
        {
            foreach (var frame in frames) Assert.True(link.Post(frame));
            foreach (var frame in frames) Assert.Equal(frame, (await target.ExpectMsgAsync<LinkFrame>(Wait)).Bytes);
        }
        var recorded = Assert.Single(proxy.Recorded);
        Assert.True(recorded.Length > frames.Sum(f => f.Length), $"the proxy recorded {recorded.Length} bytes of a connection that carried more");

        // The whole connection, handshake and frames, played again on a connection of its own, as an eavesdropper could.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", listener.Port);
            var stream = tcp.GetStream();
            var closed = await Record.ExceptionAsync(async () =>
            {
                await stream.WriteAsync(recorded);
                var read = await stream.ReadAsync(new byte[4096]).AsTask().WaitAsync(Wait);
                while (read > 0) read = await stream.ReadAsync(new byte[4096]).AsTask().WaitAsync(Wait);
            });
            Assert.True(closed is null or IOException, $"the data port kept a played-again connection open: {closed}");
        }

        // The token is still registered, and a member's frame is the first thing its target gets after the replay.
        var barrier = new byte[] { 0x5a, 0xa5, 7 };
        using var member = FrameLink.Open("127.0.0.1", listener.Port, token, owner.Ref, Identity("cluster", "a"));
        Assert.True(member.Post(barrier));
        Assert.Equal(barrier, (await target.ExpectMsgAsync<LinkFrame>(Wait)).Bytes);
    }

    public new void Dispose()
    {
        base.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
