using System.Text.Json;
using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Actors.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

public class SerializationSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private static readonly Type[] Protocols = [typeof(ICheckpointMessage), typeof(IRestoreMessage), typeof(ICopyMessage)];

    private static IEnumerable<object> Samples() =>
    [
        new CheckpointRequest(4242, "/var/lib/images/a", true),
        new CheckpointCompleted(new CheckpointSummary(7, "/img", "abc123", 5L << 32, 300, 4, 12.5, 11.75, false)),
        new CheckpointFailed(7, "copy: GPU 0x10: chunk at file offset 4294967296: EIO", true),
        new RestoreRequest("/img"),
        new RestoreCompleted(new RestoreSummary(1001, "/img", 1L << 33, 12, 3, 2, 4.5, new Dictionary<string, string> { ["0x10"] = "0x83dc" })),
        new RestoreFailed("/img", "verify: amdgpu-pages-1-0010.img: offset 8: checksum mismatch"),
        RequestWork.Instance,
        NoMoreWork.Instance,
        AbortCopy.Instance,
        new CopyChunkWork(17),
        new ChunkCopied(17, 4 << 20),
        new ChunkFailed(17, "EFAULT"),
        new DeviceProgress("GPU 0x10", 1L << 32, 3L << 32, 3),
        new DeviceCopied("renderD128", 1L << 31, 0.5),
        new DeviceCopyFailed("renderD128", "aborted"),
    ];

    [Fact]
    public void Every_protocol_message_round_trips_through_the_Hyperion_serializer()
    {
        var samples = Samples().ToList();
        var messageTypes = typeof(JobsActor).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && Protocols.Any(p => p.IsAssignableFrom(t)))
            .Where(t => !typeof(INoSerializationVerificationNeeded).IsAssignableFrom(t))
            .ToList();
        var missing = messageTypes.Where(t => samples.All(s => s.GetType() != t)).Select(t => t.Name).ToList();
        Assert.True(missing.Count == 0, $"no sample for: {string.Join(", ", missing)}");

        foreach (var sample in samples)
        {
            var serializer = Sys.Serialization.FindSerializerFor(sample);
            Assert.IsType<HyperionSerializer>(serializer);
            var back = serializer.FromBinary(serializer.ToBinary(sample), sample.GetType());
            Assert.Equal(sample.GetType(), back.GetType());
            Assert.Equal(JsonSerializer.Serialize(sample, sample.GetType()), JsonSerializer.Serialize(back, back.GetType()));
        }
    }

    [Fact]
    public void Actor_references_travel_as_paths_and_resolve_on_the_receiving_side()
    {
        var probe = CreateTestProbe();
        var serializer = (HyperionSerializer)Sys.Serialization.FindSerializerForType(typeof(object));
        var back = (Envelope)serializer.FromBinary(serializer.ToBinary(new Envelope(probe.Ref, "x")), typeof(Envelope));

        back.ReplyTo.Tell("hello");
        probe.ExpectMsg("hello");
    }

    private sealed record Envelope(IActorRef ReplyTo, string Payload);
}
