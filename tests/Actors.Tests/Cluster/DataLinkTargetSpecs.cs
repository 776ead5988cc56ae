using Akka.Actor;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Transfer;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// A migration's target with a data port: it hands its sender a token with the copy, frames that come over the data
/// link with it are written and acknowledged to that sender, a sender that asks again keeps its token (its link stays
/// good), and a new sender gets a new token that shuts the old one out.
/// </summary>
public sealed class DataLinkTargetSpecs(ITestOutputHelper output) : EngineSpec(output), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly string _state = Directory.CreateTempSubdirectory("gpuckpt-data-link-").FullName;

    /// <summary>How long a probe must stay silent: a stale frame is refused within milliseconds on loopback, this is ample on a busy host.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Frames_over_the_data_link_are_written_and_acknowledged_and_only_the_current_sender_is_admitted()
    {
        using var listener = FrameListener.Start("127.0.0.1", 0, 0, 1 << 20, Sys.Log);
        var settings = new MigrationSettings(256 * 1024, 16, TimeSpan.FromSeconds(3), 3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10),
            TimeSpan.FromMinutes(1), TimeSpan.Zero, _state) { Listener = listener };
        var coordinator = CreateTestProbe();
        var sender = CreateTestProbe();
        var target = Sys.ActorOf(MigrationTarget.Props("migr-link", "b", CreateTestProbe().Ref, settings));
        target.Tell(new PrepareTarget("migr-link", "a", coordinator.Ref), coordinator.Ref);
        await coordinator.ExpectMsgAsync<TargetPrepared>(Wait);
        var begin = new BeginImage("migr-link", "image-1", new ImageSource("sim:/run/a.sock", 4242, "a"), Array.Empty<GpuNode>(), Live: false);

        target.Tell(begin, sender.Ref);
        var begun = await sender.ExpectMsgAsync<ImageBegun>(Wait);
        Assert.Equal(listener.AdvertisedPort, begun.DataPort);
        Assert.NotNull(begun.DataToken);
        // The same sender asking again (its first answer was slow to come) keeps its token.
        target.Tell(begin, sender.Ref);
        Assert.Equal(begun.DataToken, (await sender.ExpectMsgAsync<ImageBegun>(Wait)).DataToken);

        const string file = "amdgpu-pages-1-0010.img";
        var payload = new byte[4096];
        new Random(3).NextBytes(payload);
        using (var link = FrameLink.Open("127.0.0.1", begun.DataPort, begun.DataToken!, sender.Ref))
        {
            link.Post(TransferFrame.Encode(0, file, LengthPrefix.Size + 2L * payload.Length, LengthPrefix.Size + payload.Length, payload));
            Assert.Equal(0, (await sender.ExpectMsgAsync<FrameAck>(Wait)).Seq);
        }
        await using (var written = File.OpenRead(Path.Combine(settings.IncomingDir("migr-link"), "image", file)))
        {
            var back = new byte[payload.Length];
            written.Position = LengthPrefix.Size + payload.Length;
            await written.ReadExactlyAsync(back);
            Assert.Equal(payload, back);
        }

        // The source's engine restarted: a new sender begins the copy again and gets a token of its own.
        var next = CreateTestProbe();
        target.Tell(begin, next.Ref);
        var again = await next.ExpectMsgAsync<ImageBegun>(Wait);
        Assert.NotEqual(begun.DataToken, again.DataToken);
        using var stale = FrameLink.Open("127.0.0.1", begun.DataPort, begun.DataToken!, sender.Ref);
        stale.Post(TransferFrame.Encode(1, file, LengthPrefix.Size + 2L * payload.Length, LengthPrefix.Size, payload));
        await sender.ExpectMsgAsync<LinkFailed>(Wait);
        await next.ExpectNoMsgAsync(Quiet);
        await sender.ExpectNoMsgAsync(Quiet);
    }

    public new void Dispose()
    {
        base.Dispose();
        if (Directory.Exists(_state)) Directory.Delete(_state, recursive: true);
    }
}
