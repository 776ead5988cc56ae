using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Gpuckpt.Actors.Migration;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// The migration data port over real loopback TCP: frames that carry a target's token reach that target in order and
/// whole, as sent by the sender the target named; a connection with any other token, or a frame over the maximum, is
/// closed and delivers nothing; a link that cannot connect says so.
/// </summary>
public sealed class DataLinkSpecs(ITestOutputHelper output) : TestKit(EngineConfig.Load(), "data-link-spec", output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A data port of 1 MiB frames with one target registered: frames with the token go to it, sent by the sender.</summary>
    private (FrameListener Listener, Akka.TestKit.TestProbe Target, Akka.TestKit.TestProbe Sender, string Token) Listen()
    {
        var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log);
        var target = CreateTestProbe();
        var sender = CreateTestProbe();
        return (listener, target, sender, listener.Register(target.Ref, sender.Ref));
    }

    /// <summary>How long a probe must stay silent: a failure report comes within milliseconds on loopback, this is ample on a busy host.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Frames_sent_with_the_token_arrive_whole_in_order_as_from_the_sender()
    {
        var (listener, target, sender, token) = Listen();
        using var _ = listener;
        var frames = Enumerable.Range(0, 5).Select(i =>
        {
            var bytes = new byte[100_000 + i];
            new Random(i).NextBytes(bytes);
            return bytes;
        }).ToList();

        using var link = FrameLink.Open("127.0.0.1", listener.Port, token, sender.Ref);
        foreach (var frame in frames) Assert.True(link.Post(frame));

        foreach (var frame in frames)
        {
            var arrived = await target.ExpectMsgAsync<LinkFrame>(Wait);
            Assert.Equal(frame, arrived.Bytes);
            Assert.Equal(sender.Ref, target.LastSender);
        }
        await sender.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_connection_with_another_token_is_closed_and_delivers_nothing()
    {
        var (listener, target, owner, token) = Listen();
        using var _ = listener;
        var forged = token[..^2] + (token[^2..] == "00" ? "01" : "00");

        using var link = FrameLink.Open("127.0.0.1", listener.Port, forged, owner.Ref);
        link.Post(new byte[1000]);

        var failed = await owner.ExpectMsgAsync<LinkFailed>(Wait);
        Assert.True(failed.Connected, "the link should have connected before it was closed");
        await FirstToArriveIs(listener, target, token);

        // A token that was unregistered (its target ended) admits no one either.
        listener.Unregister(token);
        using var late = FrameLink.Open("127.0.0.1", listener.Port, token, owner.Ref);
        late.Post(new byte[1000]);
        await owner.ExpectMsgAsync<LinkFailed>(Wait);
        await FirstToArriveIs(listener, target, listener.Register(target.Ref, owner.Ref));
    }

    /// <summary>
    /// A frame sent with a valid token after a refused link was closed is the first thing the target gets: the refused
    /// link delivered nothing (whatever it delivered would have arrived before it was closed).
    /// </summary>
    private async Task FirstToArriveIs(FrameListener listener, TestProbe target, string token)
    {
        var barrier = new byte[] { 0x5a, 0xa5, 7 };
        var sender = CreateTestProbe();
        using var link = FrameLink.Open("127.0.0.1", listener.Port, token, sender.Ref);
        Assert.True(link.Post(barrier));
        Assert.Equal(barrier, (await target.ExpectMsgAsync<LinkFrame>(Wait)).Bytes);
    }

    [Fact]
    public async Task A_frame_over_the_maximum_closes_the_connection()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 64 * 1024, Sys.Log);
        var target = CreateTestProbe();
        var token = listener.Register(target.Ref, TestActor);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, listener.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Convert.FromHexString(token));
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, 64 * 1024 + 1);
        await stream.WriteAsync(prefix);

        // The listener closes its end: the read sees the end of the stream (or a reset), never a frame delivered.
        var closed = await Task.Run(async () =>
        {
            try
            {
                return await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(Wait) == 0;
            }
            catch (IOException)
            {
                return true;
            }
        });
        Assert.True(closed, "the listener kept a connection that announced a frame over the maximum");
        await FirstToArriveIs(listener, target, listener.Register(target.Ref, TestActor));
    }

    [Fact]
    public async Task A_link_to_a_port_nobody_listens_on_fails_before_connecting()
    {
        var port = FreePort();
        using var link = FrameLink.Open("127.0.0.1", port, new string('0', FrameListener.TokenSize * 2), TestActor);
        link.Post(new byte[10]);

        var failed = await ExpectMsgAsync<LinkFailed>(Wait);
        Assert.False(failed.Connected);
        Assert.Contains($"127.0.0.1:{port}", failed.Reason);
        Assert.False(link.Post(new byte[10]), "a failed link took a frame");
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
