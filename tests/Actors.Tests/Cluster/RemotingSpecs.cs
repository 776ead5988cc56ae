using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>Remoting as hocon/node.conf sets it up: a frame over maximum-frame-size is refused, smaller ones arrive in order.</summary>
public sealed class RemotingSpecs(ITestOutputHelper output) : TestKit(Remote("64KiB"), "remoting-spec", output)
{
    private static Config Remote(string maximum) => ConfigurationFactory.ParseString($"""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp.hostname = "127.0.0.1"
            akka.remote.dot-netty.tcp.port = 0
            akka.remote.dot-netty.tcp.maximum-frame-size = {maximum}
            """).WithFallback(EngineConfig.Load());

    [Fact]
    public async Task A_frame_over_the_maximum_is_refused_and_the_next_one_arrives()
    {
        var other = ActorSystem.Create("remoting-spec-other", Remote("64KiB"));
        try
        {
            var probe = CreateTestProbe();
            var relay = Sys.ActorOf(Props.Create(() => new Relay(probe.Ref)), "relay");
            var address = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
            var remote = other.ActorSelection(new RootActorPath(address) / "user" / "relay");
            var small = new byte[32 * 1024];
            var large = new byte[256 * 1024];
            Random.Shared.NextBytes(small);
            Random.Shared.NextBytes(large);

            remote.Tell(small);
            var first = await probe.ExpectMsgAsync<byte[]>(TimeSpan.FromSeconds(20));
            remote.Tell(large);
            remote.Tell(small);
            // Messages between two actors keep their order: had the large one been delivered, it would come first.
            var next = await probe.ExpectMsgAsync<byte[]>(TimeSpan.FromSeconds(20));

            Assert.Equal(small, first);
            Assert.Equal(small.Length, next.Length);
        }
        finally
        {
            await other.Terminate();
        }
    }

    private sealed class Relay : ReceiveActor
    {
        public Relay(IActorRef probe) => Receive<byte[]>(bytes => probe.Tell(bytes));
    }
}
