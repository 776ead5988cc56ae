using System.Collections;
using System.Runtime.Serialization;
using System.Text;
using System.Text.RegularExpressions;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Actors.Serialization;
using Gpuckpt.Actors.Tests.Golden;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Persistence;

public sealed partial class EventSerializerSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    /// <summary>What the persistent actors journal: their event interfaces and the states they snapshot.</summary>
    private static readonly Type[] Journalled =
        [typeof(ICheckpointEvent), typeof(IRestoreEvent), typeof(IMigrationEvent), typeof(ITargetEvent), typeof(IClaimEvent), typeof(CheckpointState), typeof(RestoreState)];

    private static readonly Dictionary<string, string> GpuMap = new() { ["0x10"] = "0x83dc", ["0x20"] = "0x9a11" };
    private static readonly PhaseTime[] Phases = [new("pause", 0.125), new("copy", 10.5)];
    private static readonly CheckpointSummary Summary = new("ckpt-1", 7, "/img", "abc123", 5L << 32, 300, 4, 12.5, 11.75, true, 0.4, Phases, 3L << 31);
    private static readonly RestoreSummary Restored = new("rest-1", 1001, "/img", 1L << 33, 12, 3, 2, 4.5, GpuMap, (1L << 33) + 5, 65536, Phases);
    private static readonly MigrationSummary Moved = new("migr-1", 1000, "a", "b", 1003, 1L << 30, (1L << 30) + 4096, 1 << 20, 1, 9.5, 4.25, 6.5, GpuMap, 2, 3L << 20);
    private static readonly CheckpointStarted Started = new("ckpt-1", new CheckpointRequest(4242, "/var/lib/images/a", true, "ckpt-1", true, "/var/lib/images/parent"), "sim:/run/s.sock", 4 << 20, "abc");
    private static readonly RestoreStarted RestoreBegun = new("rest-1", new RestoreRequest("/img", "rest-1", true), "sim:/run/s.sock");

    /// <summary>One of every journalled type, each field set to a value that is not its default.</summary>
    private static IEnumerable<object> Full() =>
    [
        Started,
        new PauseIntended(),
        new CheckpointInterrupted("SIGINT"),
        new UnknownPauseUndone(true),
        new ProcessPaused(2, 300, 7, 5UL << 32),
        new ChunkSaved("GPU 0x10", 3, 5L << 32, 4 << 20, 0xfedcba9876543210UL, 12, 411),
        new ImageCommitted(5L << 32, 300, 4, 1L << 32),
        new UnpauseIntended(),
        new ProcessUnpaused(),
        new LiveCopyStarted(),
        new PackedCopyStarted(),
        new LiveCopyEnded(1UL << 40),
        new CheckpointFailing("copy: GPU 0x10: chunk at file offset 4294967296: EIO"),
        new CheckpointFinished(new CheckpointCompleted(Summary)),
        CheckpointSnapshot(),
        RestoreBegun,
        new TargetIntended("restore-rest-1"),
        new TargetCreated(1001),
        new TargetDiscarded(1002),
        new DeviceStateDone(1001, [0x1000UL, 5UL << 32, ulong.MaxValue], 2),
        new ContentChunkWritten("GPU 0x10", 2, 5L << 32),
        new ResumeIntended(1001, Restored),
        new ProcessResumed(1001),
        new RestoreHoldReached(1001, Restored),
        new RestoreFinished(new RestoreCompleted(Restored)),
        RestoreSnapshot(),
        new MigrationStarted("migr-1", new MigrateRequest(4242, "a", "b"), "akka.tcp://gpuckpt@127.0.0.1:4712", "ckpt-0123456789ab"),
        new MigrationCommitted(1003, GpuMap),
        new MigrationAborting("b", "transfer", "no acknowledgement"),
        new SourceUnpauseIntended(),
        new SourceUnpaused(true),
        new SourceReleased(1003),
        new MigrationFinished(new MigrationCompleted(Moved)),
        new TargetStarted("migr-1", "a", "akka.tcp://gpuckpt@127.0.0.1:4711"),
        new TargetRestoreStarted("rest-0123456789ab"),
        new TargetCommitSeen(),
        new TargetEnded(1003, "resumed as pid 1003"),
        new Claimed("ckpt-1", "checkpoint of pid 1001 into /img"),
        new Released("ckpt-1"),
        new ReleasedPaused("ckpt-2"),
        new PauseUndone("ckpt-3"),
    ];

    /// <summary>The other outcomes an event carries, and fields left null or empty (null stays null, empty stays empty).</summary>
    private static IEnumerable<object> Variants() =>
    [
        new CheckpointFinished(new CheckpointFailed(7, "aborted by gpuckpt abort", true, "aborted")),
        new CheckpointFinished(new CheckpointFailed(7, "copy: EIO", false)),
        new CheckpointFinished(new CheckpointInterruptedReply("ckpt-1", 7, "SIGTERM", true)),
        new CheckpointFinished(new JobUnknown("ckpt-9")),
        new CheckpointFinished(new CheckpointCompleted(Summary with { Phases = null })),
        new CheckpointFinished(new CheckpointCompleted(Summary with { Phases = [] })),
        new CheckpointStarted("ckpt-2", new CheckpointRequest(1, "/img", false), "sim:/s", 1 << 20, "def"),
        new RestoreStarted("rest-2", new RestoreRequest("/img"), "sim:/s"),
        new RestoreFinished(new RestoreFailed("/img", "forgotten: what it had restored was left as it was", "forgotten")),
        new RestoreFinished(new RestoreFailed("/img", "verify: bad")),
        new RestoreFinished(new RestoreHeld(Restored with { Phases = null, GpuMap = new Dictionary<string, string>() })),
        new RestoreFinished(new RestoreJobUnknown("rest-9")),
        new DeviceStateDone(1001, [], 0),
        new MigrationStarted("migr-2", new MigrateRequest(4242, "a", "b"), "akka.tcp://gpuckpt@127.0.0.1:4712", "ckpt-0123456789ab"),
        new MigrationFinished(new MigrationFailed("migr-1", 4242, "b", "restore", "ENOMEM on GPU 0x83dc", true)),
        new CheckpointState(),
        new RestoreState(),
        new RestoreState { Target = 0, TargetTag = "" },
    ];

    [Fact]
    public void Every_journalled_type_has_a_sample_with_every_field_set()
    {
        var types = typeof(JobsActor).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && Journalled.Any(j => j.IsAssignableFrom(t)))
            .ToList();
        var samples = Full().ToList();

        var missing = types.Where(t => samples.All(s => s.GetType() != t)).Select(t => t.Name).ToList();
        Assert.True(missing.Count == 0, $"no sample for: {string.Join(", ", missing)}");
        foreach (var sample in samples)
        foreach (var property in sample.GetType().GetProperties().Where(p => p.GetIndexParameters().Length == 0 && p.DeclaringType == sample.GetType()))
        {
            var value = property.GetValue(sample);
            var unset = value is null || (value.GetType().IsValueType && value.Equals(Activator.CreateInstance(value.GetType())))
                        || value is "" || value is ICollection { Count: 0 };
            Assert.False(unset, $"{sample.GetType().Name}.{property.Name} is left at its default: the round trip would not prove it");
        }
    }

    [Fact]
    public void Every_event_and_snapshot_round_trips_through_the_event_serializer_with_every_field()
    {
        foreach (var sample in Full().Concat(Variants()))
        {
            var serializer = Assert.IsType<EventSerializer>(Sys.Serialization.FindSerializerFor(sample));
            var manifest = serializer.Manifest(sample);

            var back = serializer.FromBinary(serializer.ToBinary(sample), manifest);

            Assert.Equal(sample.GetType(), back.GetType());
            Assert.Equal(EventText.Of(sample), EventText.Of(back));
        }
    }

    [Fact]
    public void Each_type_has_its_own_short_versioned_manifest_and_its_rows_name_no_CLR_type()
    {
        var serializer = (EventSerializer)Sys.Serialization.FindSerializerForType(typeof(ICheckpointEvent));
        var manifests = Full().Select(s => (Sample: s, Manifest: serializer.Manifest(s))).ToList();

        Assert.Equal(manifests.Count, manifests.Select(m => m.Manifest).Distinct().Count());
        foreach (var (sample, manifest) in manifests)
        {
            Assert.Matches(ManifestPattern(), manifest);
            var text = Encoding.UTF8.GetString(serializer.ToBinary(sample));
            Assert.DoesNotContain(sample.GetType().Name, text);
            Assert.DoesNotContain("Gpuckpt", text);
        }
    }

    [Fact]
    public void A_row_naming_an_event_this_version_does_not_know_is_refused_in_one_line_that_says_what_to_do()
    {
        var serializer = (EventSerializer)Sys.Serialization.FindSerializerForType(typeof(ICheckpointEvent));

        var refused = Assert.Throws<SerializationException>(() => serializer.FromBinary([8, 1], "chunk-saved.v2"));
        var garbled = Assert.Throws<SerializationException>(() => serializer.FromBinary([0x0a, 0xff, 0x01], "chunk-saved.v1"));

        Assert.Contains("chunk-saved.v2", refused.Message);
        Assert.Contains("gpuckpt forget", refused.Message);
        Assert.DoesNotContain('\n', refused.Message);
        Assert.Contains("chunk-saved.v1", garbled.Message);
    }

    [Fact]
    public void A_type_outside_the_schema_is_refused_by_name_rather_than_written()
    {
        var serializer = (EventSerializer)Sys.Serialization.FindSerializerForType(typeof(ICheckpointEvent));

        var refused = Assert.Throws<SerializationException>(() => serializer.ToBinary(new Smuggled("x")));

        Assert.Contains(nameof(Smuggled), refused.Message);
    }

    private static CheckpointState CheckpointSnapshot()
    {
        var state = new CheckpointState();
        state.Apply(Started);
        state.Apply(new PauseIntended());
        state.Apply(new ProcessPaused(1, 2, 3, 4));
        for (var i = 0; i < 50; i++) state.Apply(new ChunkSaved("GPU 0x10", i % 3, (long)i << 22, 1 << 22, (ulong)i * 0x9e3779b97f4a7c15UL, (uint)i, (uint)i + 1));
        state.Apply(new ImageCommitted(50L << 22, 50, 1, 1 << 22));
        state.Apply(new UnpauseIntended());
        state.Apply(new ProcessUnpaused());
        state.Apply(new CheckpointFailing("UNPAUSE: EIO"));
        state.Apply(new CheckpointFinished(new CheckpointFailed(7, "UNPAUSE: EIO", false, "aborted")));
        state.Interrupted = "SIGTERM";
        return state;
    }

    private static RestoreState RestoreSnapshot()
    {
        var state = new RestoreState();
        state.Apply(RestoreBegun);
        state.Apply(new TargetIntended("restore-rest-1"));
        state.Apply(new TargetCreated(1001));
        state.Apply(new DeviceStateDone(1001, [0x1000UL, 5UL << 32], 3));
        for (var i = 0; i < 40; i++) state.Apply(new ContentChunkWritten($"GPU 0x{0x10 + i % 2:x}", i % 4, (long)i << 22));
        state.Apply(new RestoreHoldReached(1001, Restored));
        state.Apply(new ResumeIntended(1001, Restored));
        state.Apply(new ProcessResumed(1001));
        state.Apply(new RestoreFinished(new RestoreCompleted(Restored)));
        return state;
    }

    [GeneratedRegex(@"^[a-z]+(-[a-z]+)*\.v[0-9]+$")]
    private static partial Regex ManifestPattern();
}
