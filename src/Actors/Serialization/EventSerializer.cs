using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Actors.Restore;
using Google.Protobuf;
using P = Gpuckpt.Actors.Serialization.Proto;

namespace Gpuckpt.Actors.Serialization;

/// <summary>
/// The journal's serializer: every event and snapshot of the persistent actors as a protobuf message of
/// Serialization/Proto/events.proto under a short stable manifest (<c>chunk-saved.v1</c>), so a stored row names no CLR
/// type and survives a rename. Its id comes from akka.actor.serialization-identifiers in hocon/engine.conf; rows written
/// before this schema (Hyperion, serializer 4242) are still read by <see cref="HyperionSerializer"/>.
/// </summary>
public sealed partial class EventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public override int Identifier { get; } = SerializerIdentifierHelper.GetSerializerIdentifierFromConfig(typeof(EventSerializer), system);

    public override string Manifest(object o) => o switch
    {
        CheckpointStarted => "checkpoint-started.v1",
        PauseIntended => "pause-intended.v1",
        CheckpointInterrupted => "checkpoint-interrupted.v1",
        UnknownPauseUndone => "unknown-pause-undone.v1",
        ProcessPaused => "process-paused.v1",
        ChunkSaved => "chunk-saved.v1",
        ImageCommitted => "image-committed.v1",
        UnpauseIntended => "unpause-intended.v1",
        ProcessUnpaused => "process-unpaused.v1",
        LiveCopyStarted => "live-copy-started.v1",
        PackedCopyStarted => "packed-copy-started.v1",
        LiveCopyEnded => "live-copy-ended.v1",
        CheckpointFailing => "checkpoint-failing.v1",
        CheckpointFinished => "checkpoint-finished.v1",
        CheckpointState => "checkpoint-state.v1",
        RestoreStarted => "restore-started.v1",
        TargetIntended => "target-intended.v1",
        TargetCreated => "target-created.v1",
        TargetDiscarded => "target-discarded.v1",
        DeviceStateDone => "device-state-done.v1",
        ContentChunkWritten => "content-chunk-written.v1",
        ResumeIntended => "resume-intended.v1",
        ProcessResumed => "process-resumed.v1",
        RestoreHoldReached => "restore-hold-reached.v1",
        RestoreFinished => "restore-finished.v1",
        RestoreState => "restore-state.v1",
        MigrationStarted => "migration-started.v1",
        MigrationCommitted => "migration-committed.v1",
        MigrationAborting => "migration-aborting.v1",
        SourceUnpauseIntended => "source-unpause-intended.v1",
        SourceUnpaused => "source-unpaused.v1",
        SourceReleased => "source-released.v1",
        MigrationFinished => "migration-finished.v1",
        TargetStarted => "target-started.v1",
        TargetRestoreStarted => "target-restore-started.v1",
        TargetCommitSeen => "target-commit-seen.v1",
        TargetEnded => "target-ended.v1",
        Claimed => "claimed.v1",
        Released => "released.v1",
        ReleasedPaused => "released-paused.v1",
        PauseUndone => "pause-undone.v1",
        _ => throw Unknown(o),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        PauseIntended or UnpauseIntended or ProcessUnpaused or LiveCopyStarted or PackedCopyStarted or SourceUnpauseIntended or TargetCommitSeen => [],
        CheckpointStarted e => Encode(e).ToByteArray(),
        CheckpointInterrupted e => new P.CheckpointInterruptedEvent { Signal = e.Signal }.ToByteArray(),
        UnknownPauseUndone e => new P.UnknownPauseUndoneEvent { WasPaused = e.WasPaused }.ToByteArray(),
        ProcessPaused e => Encode(e).ToByteArray(),
        ChunkSaved e => Encode(e).ToByteArray(),
        ImageCommitted e => Encode(e).ToByteArray(),
        LiveCopyEnded e => new P.LiveCopyEndedEvent { Since = e.Since }.ToByteArray(),
        CheckpointFailing e => new P.CheckpointFailingEvent { Reason = e.Reason }.ToByteArray(),
        CheckpointFinished e => new P.CheckpointFinishedEvent { Outcome = Encode(e.Outcome) }.ToByteArray(),
        CheckpointState s => Encode(s).ToByteArray(),
        RestoreStarted e => Encode(e).ToByteArray(),
        TargetIntended e => new P.TargetIntendedEvent { Tag = e.Tag }.ToByteArray(),
        TargetCreated e => new P.PidEvent { Pid = e.Pid }.ToByteArray(),
        TargetDiscarded e => new P.PidEvent { Pid = e.Pid }.ToByteArray(),
        ProcessResumed e => new P.PidEvent { Pid = e.Pid }.ToByteArray(),
        DeviceStateDone e => Encode(e).ToByteArray(),
        ContentChunkWritten e => new P.ContentChunkWrittenEvent { Device = e.Device, File = e.File, Offset = e.Offset }.ToByteArray(),
        ResumeIntended e => Encode(e.Pid, e.Summary).ToByteArray(),
        RestoreHoldReached e => Encode(e.Pid, e.Summary).ToByteArray(),
        RestoreFinished e => new P.RestoreFinishedEvent { Outcome = Encode(e.Outcome) }.ToByteArray(),
        RestoreState s => Encode(s).ToByteArray(),
        MigrationStarted e => new P.MigrationStartedEvent
        {
            MigrationId = e.MigrationId, Request = Encode(e.Request), TargetNode = e.TargetNode, CheckpointJobId = e.CheckpointJobId,
        }.ToByteArray(),
        MigrationCommitted e => new P.MigrationCommittedEvent { TargetPid = e.TargetPid, GpuMap = { Map(e.GpuMap) } }.ToByteArray(),
        MigrationAborting e => new P.MigrationAbortingEvent { Node = e.Node, Step = e.Step, Reason = e.Reason }.ToByteArray(),
        SourceUnpaused e => new P.SourceUnpausedEvent { TookEffect = e.TookEffect }.ToByteArray(),
        SourceReleased e => new P.SourceReleasedEvent { TargetPid = e.TargetPid }.ToByteArray(),
        MigrationFinished e => new P.MigrationFinishedEvent { Outcome = Encode(e.Outcome) }.ToByteArray(),
        TargetStarted e => new P.TargetStartedEvent { MigrationId = e.MigrationId, From = e.From, CoordinatorNode = e.CoordinatorNode }.ToByteArray(),
        TargetRestoreStarted e => new P.TargetRestoreStartedEvent { RestoreJobId = e.RestoreJobId }.ToByteArray(),
        TargetEnded e => new P.TargetEndedEvent { Pid = e.Pid, Outcome = e.Outcome }.ToByteArray(),
        Claimed e => new P.ClaimedEvent { JobId = e.JobId, What = e.What }.ToByteArray(),
        Released e => new P.ClaimJobEvent { JobId = e.JobId }.ToByteArray(),
        ReleasedPaused e => new P.ClaimJobEvent { JobId = e.JobId }.ToByteArray(),
        PauseUndone e => new P.ClaimJobEvent { JobId = e.JobId }.ToByteArray(),
        _ => throw Unknown(obj),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            return Decode(bytes, manifest);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SerializationException($"a journal row of {manifest} ({bytes.Length} bytes) is not a valid {manifest} message: {e.Message}", e);
        }
    }

    private static object Decode(byte[] bytes, string manifest) => manifest switch
    {
        "checkpoint-started.v1" => Decode(P.CheckpointStartedEvent.Parser.ParseFrom(bytes)),
        "pause-intended.v1" => new PauseIntended(),
        "checkpoint-interrupted.v1" => new CheckpointInterrupted(P.CheckpointInterruptedEvent.Parser.ParseFrom(bytes).Signal),
        "unknown-pause-undone.v1" => new UnknownPauseUndone(P.UnknownPauseUndoneEvent.Parser.ParseFrom(bytes).WasPaused),
        "process-paused.v1" => Decode(P.ProcessPausedEvent.Parser.ParseFrom(bytes)),
        "chunk-saved.v1" => Decode(P.ChunkSavedEvent.Parser.ParseFrom(bytes)),
        "image-committed.v1" => Decode(P.ImageCommittedEvent.Parser.ParseFrom(bytes)),
        "unpause-intended.v1" => new UnpauseIntended(),
        "process-unpaused.v1" => new ProcessUnpaused(),
        "live-copy-started.v1" => new LiveCopyStarted(),
        "packed-copy-started.v1" => new PackedCopyStarted(),
        "live-copy-ended.v1" => new LiveCopyEnded(P.LiveCopyEndedEvent.Parser.ParseFrom(bytes).Since),
        "checkpoint-failing.v1" => new CheckpointFailing(P.CheckpointFailingEvent.Parser.ParseFrom(bytes).Reason),
        "checkpoint-finished.v1" => new CheckpointFinished(Decode(P.CheckpointFinishedEvent.Parser.ParseFrom(bytes).Outcome)),
        "checkpoint-state.v1" => Decode(P.CheckpointStateSnapshot.Parser.ParseFrom(bytes)),
        "restore-started.v1" => Decode(P.RestoreStartedEvent.Parser.ParseFrom(bytes)),
        "target-intended.v1" => new TargetIntended(P.TargetIntendedEvent.Parser.ParseFrom(bytes).Tag),
        "target-created.v1" => new TargetCreated(P.PidEvent.Parser.ParseFrom(bytes).Pid),
        "target-discarded.v1" => new TargetDiscarded(P.PidEvent.Parser.ParseFrom(bytes).Pid),
        "process-resumed.v1" => new ProcessResumed(P.PidEvent.Parser.ParseFrom(bytes).Pid),
        "device-state-done.v1" => Decode(P.DeviceStateDoneEvent.Parser.ParseFrom(bytes)),
        "content-chunk-written.v1" => Decode(P.ContentChunkWrittenEvent.Parser.ParseFrom(bytes)),
        "resume-intended.v1" => DecodeResume(P.PidSummaryEvent.Parser.ParseFrom(bytes)),
        "restore-hold-reached.v1" => DecodeHold(P.PidSummaryEvent.Parser.ParseFrom(bytes)),
        "restore-finished.v1" => new RestoreFinished(Decode(P.RestoreFinishedEvent.Parser.ParseFrom(bytes).Outcome)),
        "restore-state.v1" => Decode(P.RestoreStateSnapshot.Parser.ParseFrom(bytes)),
        "migration-started.v1" => Decode(P.MigrationStartedEvent.Parser.ParseFrom(bytes)),
        "migration-committed.v1" => Decode(P.MigrationCommittedEvent.Parser.ParseFrom(bytes)),
        "migration-aborting.v1" => Decode(P.MigrationAbortingEvent.Parser.ParseFrom(bytes)),
        "source-unpause-intended.v1" => new SourceUnpauseIntended(),
        "source-unpaused.v1" => new SourceUnpaused(P.SourceUnpausedEvent.Parser.ParseFrom(bytes).TookEffect),
        "source-released.v1" => new SourceReleased(P.SourceReleasedEvent.Parser.ParseFrom(bytes).TargetPid),
        "migration-finished.v1" => new MigrationFinished(Decode(P.MigrationFinishedEvent.Parser.ParseFrom(bytes).Outcome)),
        "target-started.v1" => Decode(P.TargetStartedEvent.Parser.ParseFrom(bytes)),
        "target-restore-started.v1" => new TargetRestoreStarted(P.TargetRestoreStartedEvent.Parser.ParseFrom(bytes).RestoreJobId),
        "target-commit-seen.v1" => new TargetCommitSeen(),
        "target-ended.v1" => Decode(P.TargetEndedEvent.Parser.ParseFrom(bytes)),
        "claimed.v1" => Decode(P.ClaimedEvent.Parser.ParseFrom(bytes)),
        "released.v1" => new Released(P.ClaimJobEvent.Parser.ParseFrom(bytes).JobId),
        "released-paused.v1" => new ReleasedPaused(P.ClaimJobEvent.Parser.ParseFrom(bytes).JobId),
        "pause-undone.v1" => new PauseUndone(P.ClaimJobEvent.Parser.ParseFrom(bytes).JobId),
        _ => throw new SerializationException(
            $"a journal row names event {manifest}, which this version of gpuckpt does not know (a newer one wrote it): run that version, or `gpuckpt forget` the job"),
    };

    private static SerializationException Unknown(object o) =>
        new($"{o.GetType().FullName} has no place in the journal's schema (Serialization/Proto/events.proto): give it a message and a manifest");
}
