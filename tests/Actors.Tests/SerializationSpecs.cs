using Gpuckpt.Actors.Claims;
using System.Text.Json;
using Akka.Actor;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Actors.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

public class SerializationSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    private static readonly Type[] Protocols =
    [
        typeof(ICheckpointMessage), typeof(IRestoreMessage), typeof(ICopyMessage), typeof(ICheckpointEvent), typeof(IRestoreEvent),
        typeof(IJobsMessage), typeof(IClusterMessage), typeof(IMigrationMessage), typeof(IMigrationEvent), typeof(ITargetEvent), typeof(IJobProgress),
        typeof(IClaimMessage), typeof(IClaimEvent),
    ];

    private static readonly GpuNode Gpu = new() { GpuId = 0x83dc, DrmRenderMinor = 129, SimdCount = 416, VramSize = 64UL << 30, HiveId = 0xfeed, IoLinks = new[] { new IoLink(11, 2) } };
    private static readonly MigrationSummary Moved = new("migr-1", 1000, "a", "b", 1003, 1L << 30, (1L << 30) + 4096, 1 << 20, 1, 9.5, 4.25, 6.5,
        new Dictionary<string, string> { ["0x10"] = "0x83dc" }, TargetRestarts: 1, BytesKept: 3L << 20);

    /// <summary>Messages that carry actor references: compared by their text, which names the references' paths.</summary>
    private IEnumerable<object> SamplesWithRefs() =>
    [
        new PrepareTarget("migr-1", "a", TestActor),
        new TargetPrepared("migr-1", TestActor),
    ];

    private static IEnumerable<object> Samples() =>
    [
        new ImageChunkWritten("amdgpu-pages-1-0010.img", 5L << 32, 4L << 32, 4 << 20, 0xfeedface_cafebeefUL),
        new RestoreHeld(Restored),
        new ReleaseRestore(false, "node a rolled the migration back"),
        new RestoreHoldReached(1001, Restored),
        ListJobs.Instance,
        new RunningJobs(new[] { "ckpt-0123456789ab", "rest-0123456789ab" }),
        DrainJobs.Instance,
        JobsDrained.Instance,
        ClusterStatusRequest.Instance,
        NodeInfoRequest.Instance,
        new NodeInfo("a", "akka.tcp://gpuckpt@127.0.0.1:4711", "sim:/run/a.sock", new[] { Gpu }, new[] { new NodeJob("migr-1", "process", "running", "pid 1003, migrated from a") }, true),
        new ClusterStatus("a", "akka.tcp://gpuckpt@127.0.0.1:4711", new[] { new MemberInfo("a", "akka.tcp://gpuckpt@127.0.0.1:4711", "up", true, new[] { "gpu", "node:a" }, null) }),
        new MigrateRequest(4242, "a", "b"),
        new MigrateLiveRequest(4242, "a", "b"),
        new LiveRoundsReport("migr-1", new[] { new LiveRound(5L << 32, 2.5), new LiveRound(1L << 20, 0.4) }),
        new MigrationProgress("migr-1", "transfer", 1L << 31, 1L << 32, 4096),
        new MigrationCompleted(Moved),
        new MigrationFailed("migr-1", 4242, "b", "restore", "ENOMEM on GPU 0x83dc", true),
        new MigrateRequest(4242, "a", "b"),
        new MigrateProcessRequest(4242, "a", "b"),
        new ProcessMigrationFailed("migr-1", 4242, "b", "restore", "criu restore failed", true, "pid 4242 runs again on a, restored from its dump there; b kept nothing"),
        new CriuTargetCheck("migr-1", "a", new Gpuckpt.Engine.Transfer.ProcessIdentity(4242, "8d1f0c5e-6a1b-4f7e-9a0e-2b1c3d4e5f60", "pid:[4026531836]", 123456789UL)),
        new CriuTargetReady("migr-1", "4.2.1"),
        new CriuImagePiece("migr-1", "gpu/amdgpu-pages-1-0010.img", 5L << 32, [1, 2, 3, 0xfe], true),
        new CriuPieceStored("migr-1", "pages-1.img", 5L << 32),
        new CriuRestoreTarget("migr-1", 42, 5L << 32),
        new CriuTargetRestored("migr-1", 4242),
        new CriuAbortTarget("migr-1"),
        new CriuTargetAborted("migr-1", false, 0, "criu restore failed"),
        new BeginImage("migr-1", "abc123", new ImageSource("sim:/run/a.sock", 4242, "node-a"), new[] { Gpu }, Live: true),
        new ImageBegun("migr-1", 40123, "5f0e" + new string('a', 60)),
        new FrameAck(5L << 32),
        new FrameRejected(17, "amdgpu-pages-1-0010.img: offset 8: frame 17 checksum mismatch"),
        new FrameMissing(18),
        new SealImage("migr-1", new[] { new SealedFile("amdgpu-kfd-1.img", 4104) }, new ImageLink[] { ImportLink.FromKfd(2, 7, 0x10, 0x7f0000000000) }),
        new ImageSealed("migr-1", 1L << 32),
        new StartTargetRestore("migr-1"),
        new TargetHeld("migr-1", 1003, new Dictionary<string, string> { ["0x10"] = "0x83dc" }),
        new CommitTarget("migr-1"),
        new TargetResumed("migr-1", 1003),
        new AbortTarget("migr-1", "node b stopped"),
        new TargetAborted("migr-1"),
        new TargetFailed("migr-1", "b", "write image", "ENOSPC"),
        new QueryMigration("migr-1", "b", "the engine on node b restarted", CanContinue: true),
        new TransferResumes("migr-1"),
        new MigrationDecision("migr-1", false),
        ListMigrations.Instance,
        new MigrationsList(new[] { new NodeJob("migr-1", "migration", "running", "out of this node") }, true),
        DrainMigrations.Instance,
        MigrationsDrained.Instance,
        new MigrationStarted("migr-1", new MigrateRequest(4242, "a", "b"), "akka.tcp://gpuckpt@127.0.0.1:4712", "ckpt-0123456789ab"),
        new MigrationCommitted(1003, new Dictionary<string, string> { ["0x10"] = "0x83dc" }),
        new MigrationAborting("b", "transfer", "no acknowledgement"),
        new SourceUnpauseIntended(),
        new SourceUnpaused(true),
        new SourceReleased(1003),
        new MigrationFinished(new MigrationCompleted(Moved)),
        new TargetStarted("migr-1", "a", "akka.tcp://gpuckpt@127.0.0.1:4711"),
        new TargetRestoreStarted("rest-0123456789ab"),
        new TargetCommitSeen(),
        new TargetEnded(1003, "resumed as pid 1003"),
        new CheckpointRequest(4242, "/var/lib/images/a", true, "ckpt-0123456789ab"),
        new CheckpointCompleted(Summary),
        new CheckpointFailed(7, "copy: GPU 0x10: chunk at file offset 4294967296: EIO", true),
        new CheckpointFailed(7, "aborted by gpuckpt abort", true, "aborted"),
        new CheckpointInterruptedReply("ckpt-1", 7, "SIGTERM", true),
        new RestoreRequest("/img", "rest-0123456789ab"),
        new RestoreCheckedCopy(new RestoreRequest("/img", "rest-0123456789ab"), new string('a', 64)),
        new RestoreCheckedCopy(new RestoreRequest("/img", "rest-0123456789ab", HoldBeforeResume: true), new string('a', 64), ThroughPageCache: false),
        new RestoreCompleted(Restored),
        new RestoreFailed("/img", "verify: amdgpu-pages-1-0010.img: offset 8: checksum mismatch"),
        AbortCopy.Instance,
        new ChunkLanded("GPU 0x10", 17, 0xfeedface_cafebeefUL),
        new ActorStartedAt("/user/jobs/ckpt-0123456789ab/GPU-0x10/bo-17"),
        new RenderBoPassed(2, "render BO handle 5 on GPU 0x10", true, null, "/user/jobs/rest-1/renderD128/bo-5"),
        new ResumeJob("ckpt-0123456789ab"),
        new JobPhaseStarted("ckpt-0123456789ab", "copy", new[] { new PhaseTime("pause", 0.01), new PhaseTime("capture", 0.2) }),
        new JobUnknown("ckpt-0123456789ab"),
        new RestoreJobUnknown("rest-0123456789ab"),
        new CheckpointStarted("ckpt-1", new CheckpointRequest(1, "/img", false, "ckpt-1"), "sim:/run/s.sock", 4 << 20, "abc"),
        new PauseIntended(),
        new ProcessPaused(2, 300, 7, 65536),
        new UnknownPauseUndone(true),
        new ChunkSaved("GPU 0x10", 0, 5L << 32, 4 << 20, 0x0123456789abcdefUL, 12, 411),
        new ImageCommitted(5L << 32, 300, 4),
        new UnpauseIntended(),
        new ProcessUnpaused(),
        new LiveCopyStarted(),
        new PackedCopyStarted(),
        new LiveCopyEnded(1UL << 40),
        new LiveCheckpointRequest(new CheckpointRequest(42, "/tmp/img", false, "ckpt-1", ReportChunks: true)),
        new PackedCheckpointRequest(new CheckpointRequest(43, "/tmp/img", true, "ckpt-2", Parent: "/tmp/parent")),
        new LiveRoundCopied("ckpt-1", 2, 5L << 32, 1.5, 1L << 20),
        new LiveRoundNext(true, "the migration rolled back"),
        new CheckpointFailing("copy: EIO"),
        new CheckpointFinished(new CheckpointCompleted(Summary)),
        new RestoreStarted("rest-1", new RestoreRequest("/img", "rest-1"), "sim:/run/s.sock"),
        new TargetIntended("restore-rest-1"),
        new TargetCreated(1001),
        new TargetDiscarded(1001),
        new DeviceStateDone(1001, new ulong[] { 0x1000UL, 5UL << 32 }, 2),
        new ContentChunkWritten("GPU 0x10", 0, 5L << 32),
        new ResumeIntended(1001, Restored),
        new ProcessResumed(1001),
        new RestoreFinished(new RestoreFailed("/img", "verify: bad")),
        new RestoreFinished(new RestoreFailed("/img", "forgotten: what it had restored was left as it was", "forgotten")),
        new CheckpointInterrupted("SIGINT"),
        new DeviceProgress("GPU 0x10", 1L << 32, 3L << 32, 3, 100, 400),
        new DeviceCopied("renderD128", 1L << 31, 0.5),
        new DeviceCopyFailed("renderD128", "aborted"),
        new ClaimGranted("ckpt-1", "node|sim:/run/s.sock|1001"),
        new ClaimGranted("unpause-1", "node|sim:/run/s.sock|1001", "ckpt-0"),
        new ClaimRefused("ckpt-2", "node|sim:/run/s.sock|1001", "ckpt-1", "checkpoint of pid 1001 into /img"),
        new ClaimReleased("ckpt-1"),
        new JobHolds("ckpt-1", "node|sim:/run/s.sock|1001"),
        new Claimed("ckpt-1", "checkpoint of pid 1001 into /img"),
        new Released("ckpt-1"),
        new ReleasedPaused("ckpt-1"),
        new PauseUndone("ckpt-2"),
        new ClaimRefusedPaused("ckpt-2", "node|sim:/run/s.sock|1001", "ckpt-1"),
        new ClaimFailed("ckpt-3", "node|sim:/run/s.sock|1002", "the journal could not record the claim: no space left on device"),
    ];

    private static readonly CheckpointSummary Summary = new("ckpt-1", 7, "/img", "abc123", 5L << 32, 300, 4, 12.5, 11.75, false, 0.4, new[] { new PhaseTime("copy", 10.5) });
    private static readonly RestoreSummary Restored = new("rest-1", 1001, "/img", 1L << 33, 12, 3, 2, 4.5, new Dictionary<string, string> { ["0x10"] = "0x83dc" }, 1L << 33, 65536);

    [Fact]
    public void A_checkpoint_snapshot_round_trips_with_its_chunks()
    {
        var state = new CheckpointState();
        state.Apply(new CheckpointStarted("ckpt-1", new CheckpointRequest(1, "/img", true, "ckpt-1"), "sim:/s", 1 << 20, "abc"));
        state.Apply(new ProcessPaused(1, 2, 3, 4));
        for (var i = 0; i < 100; i++) state.Apply(new ChunkSaved("GPU 0x10", 0, (long)i << 20, 1 << 20, (ulong)i * 0x9e3779b97f4a7c15UL));
        var serializer = Sys.Serialization.FindSerializerFor(state);

        var back = (CheckpointState)Sys.Serialization.Deserialize(serializer.ToBinary(state), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, state));

        Assert.Equal(state.Started, back.Started);
        Assert.Equal(state.Paused, back.Paused);
        Assert.Equal(state.Chunks.OrderBy(kv => kv.Key), back.Chunks.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Every_protocol_message_and_event_round_trips_through_its_serializer()
    {
        var samples = Samples().ToList();
        var withRefs = SamplesWithRefs().ToList();
        var messageTypes = typeof(JobsActor).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && Protocols.Any(p => p.IsAssignableFrom(t)))
            .Where(t => !typeof(INoSerializationVerificationNeeded).IsAssignableFrom(t))
            .ToList();
        var missing = messageTypes.Where(t => samples.Concat(withRefs).All(s => s.GetType() != t)).Select(t => t.Name).ToList();
        Assert.True(missing.Count == 0, $"no sample for: {string.Join(", ", missing)}");

        foreach (var sample in samples)
        {
            var serializer = Sys.Serialization.FindSerializerFor(sample);
            // What the journal stores has a schema of its own (EventSerializerSpecs); the rest travels through Hyperion.
            Assert.IsType(Journalled(sample) ? typeof(EventSerializer) : typeof(HyperionSerializer), serializer);
            var back = Sys.Serialization.Deserialize(serializer.ToBinary(sample), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, sample));
            Assert.Equal(sample.GetType(), back.GetType());
            Assert.Equal(JsonSerializer.Serialize(sample, sample.GetType()), JsonSerializer.Serialize(back, back.GetType()));
        }
        foreach (var sample in withRefs)
        {
            var serializer = Sys.Serialization.FindSerializerFor(sample);
            Assert.IsType<HyperionSerializer>(serializer);
            var back = serializer.FromBinary(serializer.ToBinary(sample), sample.GetType());
            Assert.Equal(sample, back);
        }
    }

    private static bool Journalled(object sample) =>
        sample is ICheckpointEvent or IRestoreEvent or IMigrationEvent or ITargetEvent or IClaimEvent or CheckpointState or RestoreState;

    [Fact]
    public void An_actor_reference_in_a_migration_message_resolves_on_the_receiving_side()
    {
        var probe = CreateTestProbe();
        var serializer = Sys.Serialization.FindSerializerFor(new TargetPrepared("migr-1", probe.Ref));
        var back = (TargetPrepared)serializer.FromBinary(serializer.ToBinary(new TargetPrepared("migr-1", probe.Ref)), typeof(TargetPrepared));

        back.Target.Tell("hello");
        probe.ExpectMsg("hello");
    }

    [Fact]
    public void A_payload_naming_a_type_outside_the_allow_list_is_refused()
    {
        var serializer = (HyperionSerializer)Sys.Serialization.FindSerializerForType(typeof(object));
        // The forger's Hyperion has no filter; ours must refuse what it wrote, and refuse to write such a type too.
        var forger = new Hyperion.Serializer(new Hyperion.SerializerOptions(versionTolerance: true, preserveObjectReferences: true, surrogates: null, serializerFactories: null, knownTypes: null,
            ignoreISerializable: true, packageNameOverrides: null, disallowUnsafeTypes: false, typeFilter: Hyperion.DisabledTypeFilter.Instance));
        byte[] Forge(object value)
        {
            using var stream = new MemoryStream();
            forger.Serialize(value, stream);
            return stream.ToArray();
        }

        var refused = Assert.ThrowsAny<Exception>(() => serializer.FromBinary(Forge(new Smuggled("rm -rf /")), typeof(object)));
        var nested = Assert.ThrowsAny<Exception>(() => serializer.FromBinary(Forge(new List<Smuggled> { new("x") }), typeof(object)));
        var written = Assert.ThrowsAny<Exception>(() => serializer.ToBinary(new Smuggled("x")));
        Assert.Contains("Smuggled", refused.ToString());
        Assert.Contains("Smuggled", nested.ToString());
        Assert.Contains("Smuggled", written.ToString());
        // The same bytes read by an unfiltered Hyperion do give the object back: the filter, not a broken payload, refused it.
        using var readBack = new MemoryStream(Forge(new Smuggled("rm -rf /")));
        Assert.Equal(new Smuggled("rm -rf /"), forger.Deserialize<object>(readBack));
    }

    [Theory]
    [InlineData("Gpuckpt.Actors.Checkpoint.CheckpointRequest, Gpuckpt.Actors", true)]
    [InlineData("System.Collections.Generic.Dictionary`2[[System.String, %core%],[Gpuckpt.Actors.Checkpoint.ChunkSaved, Gpuckpt.Actors]], %core%", true)]
    [InlineData("System.UInt64[], %core%", true)]
    [InlineData("Gpuckpt.Actors.Tests.Smuggled, Gpuckpt.Actors.Tests", false)]
    [InlineData("System.Diagnostics.ProcessStartInfo, System.Diagnostics.Process", false)]
    [InlineData("System.IO.FileInfo, %core%", false)]
    [InlineData("System.Collections.Generic.List`1[[System.IO.FileInfo, %core%]], %core%", false)]
    [InlineData("Gpuckpt.Evil, Evil.Assembly", false)]
    [InlineData("System.Collections.Generic.List`1[[System.String, %core%]][]x, %core%", false)]
    public void The_type_filter_allows_project_types_and_their_collections_only(string typeName, bool allowed) =>
        Assert.Equal(allowed, new AllowListTypeFilter(["Gpuckpt.Actors", "Gpuckpt.Engine"]).IsAllowed(typeName));

    [Fact]
    public void Chunk_payloads_are_raw_bytes_through_the_byte_array_serializer()
    {
        var serializer = Sys.Serialization.FindSerializerFor(new byte[] { 1, 2, 3 });
        Assert.IsType<Akka.Serialization.ByteArraySerializer>(serializer);
    }
}

/// <summary>A type outside the allow-list (this test assembly is not allowed in the engine's configuration).</summary>
public sealed record Smuggled(string Command);
