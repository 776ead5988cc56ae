using System.Runtime.Serialization;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Claims;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Actors.Restore;
using P = Gpuckpt.Actors.Serialization.Proto;

namespace Gpuckpt.Actors.Serialization;

/// <summary>Each event's fields to and from its message of events.proto.</summary>
public sealed partial class EventSerializer
{
    // ---- shared parts ---------------------------------------------------------------------------------------------

    private static Dictionary<string, string> Map(IReadOnlyDictionary<string, string> map) => map.ToDictionary();

    private static P.PhaseTimes? Encode(IReadOnlyList<PhaseTime>? phases) =>
        phases is null ? null : new P.PhaseTimes { Items = { phases.Select(p => new P.PhaseTimeData { Phase = p.Phase, Seconds = p.Seconds }) } };

    private static PhaseTime[]? Decode(P.PhaseTimes? phases) => phases?.Items.Select(p => new PhaseTime(p.Phase, p.Seconds)).ToArray();

    private static P.CheckpointRequestData Encode(CheckpointRequest r)
    {
        var data = new P.CheckpointRequestData { Pid = r.Pid, ImagesDir = r.ImagesDir, LeaveRunning = r.LeaveRunning, ReportChunks = r.ReportChunks };
        if (r.JobId is not null) data.JobId = r.JobId;
        if (r.Parent is not null) data.Parent = r.Parent;
        return data;
    }

    private static CheckpointRequest Decode(P.CheckpointRequestData r) =>
        new(r.Pid, r.ImagesDir, r.LeaveRunning, r.HasJobId ? r.JobId : null, r.ReportChunks, r.HasParent ? r.Parent : null);

    private static P.CheckpointSummaryData Encode(CheckpointSummary s) => new()
    {
        JobId = s.JobId, Pid = s.Pid, ImagesDir = s.ImagesDir, ImageId = s.ImageId, Bytes = s.Bytes, Bos = s.Bos, Devices = s.Devices,
        Seconds = s.Seconds, PauseSeconds = s.PauseSeconds, LeftPaused = s.LeftPaused, RecoverySeconds = s.RecoverySeconds,
        Phases = Encode(s.Phases), ReferencedBytes = s.ReferencedBytes,
    };

    private static CheckpointSummary Decode(P.CheckpointSummaryData s) =>
        new(s.JobId, s.Pid, s.ImagesDir, s.ImageId, s.Bytes, s.Bos, s.Devices, s.Seconds, s.PauseSeconds, s.LeftPaused, s.RecoverySeconds,
            Decode(s.Phases), s.ReferencedBytes);

    private static P.CheckpointOutcome Encode(ICheckpointMessage outcome) => outcome switch
    {
        CheckpointCompleted c => new P.CheckpointOutcome { Completed = Encode(c.Summary) },
        CheckpointFailed f => new P.CheckpointOutcome { Failed = Encode(f) },
        CheckpointInterruptedReply i => new P.CheckpointOutcome
        {
            Interrupted = new P.CheckpointInterruptedData { JobId = i.JobId, Pid = i.Pid, Signal = i.Signal, Unpaused = i.Unpaused },
        },
        JobUnknown u => new P.CheckpointOutcome { UnknownJobId = u.JobId },
        _ => throw Unknown(outcome),
    };

    private static P.CheckpointFailedData Encode(CheckpointFailed f)
    {
        var data = new P.CheckpointFailedData { Pid = f.Pid, Reason = f.Reason, Unpaused = f.Unpaused };
        if (f.EndedBy is not null) data.EndedBy = f.EndedBy;
        return data;
    }

    private static ICheckpointMessage Decode(P.CheckpointOutcome? outcome) => outcome?.OutcomeCase switch
    {
        P.CheckpointOutcome.OutcomeOneofCase.Completed => new CheckpointCompleted(Decode(outcome.Completed)),
        P.CheckpointOutcome.OutcomeOneofCase.Failed => new CheckpointFailed(
            outcome.Failed.Pid, outcome.Failed.Reason, outcome.Failed.Unpaused, outcome.Failed.HasEndedBy ? outcome.Failed.EndedBy : null),
        P.CheckpointOutcome.OutcomeOneofCase.Interrupted => new CheckpointInterruptedReply(
            outcome.Interrupted.JobId, outcome.Interrupted.Pid, outcome.Interrupted.Signal, outcome.Interrupted.Unpaused),
        P.CheckpointOutcome.OutcomeOneofCase.UnknownJobId => new JobUnknown(outcome.UnknownJobId),
        _ => throw new SerializationException("a checkpoint outcome in the journal holds none of the outcomes this version knows"),
    };

    private static P.RestoreSummaryData Encode(RestoreSummary s) => new()
    {
        JobId = s.JobId, Pid = s.Pid, ImagesDir = s.ImagesDir, Bytes = s.Bytes, Bos = s.Bos, Devices = s.Devices, RenderPasses = s.RenderPasses,
        Seconds = s.Seconds, GpuMap = { Map(s.GpuMap) }, ContentBytesRead = s.ContentBytesRead, MetadataBytesRead = s.MetadataBytesRead,
        Phases = Encode(s.Phases),
    };

    private static RestoreSummary Decode(P.RestoreSummaryData s) =>
        new(s.JobId, s.Pid, s.ImagesDir, s.Bytes, s.Bos, s.Devices, s.RenderPasses, s.Seconds, new Dictionary<string, string>(s.GpuMap),
            s.ContentBytesRead, s.MetadataBytesRead, Decode(s.Phases));

    private static P.RestoreOutcome Encode(IRestoreMessage outcome) => outcome switch
    {
        RestoreCompleted c => new P.RestoreOutcome { Completed = Encode(c.Summary) },
        RestoreFailed f => new P.RestoreOutcome { Failed = Encode(f) },
        RestoreHeld h => new P.RestoreOutcome { Held = Encode(h.Summary) },
        RestoreJobUnknown u => new P.RestoreOutcome { UnknownJobId = u.JobId },
        _ => throw Unknown(outcome),
    };

    private static P.RestoreFailedData Encode(RestoreFailed f)
    {
        var data = new P.RestoreFailedData { ImagesDir = f.ImagesDir, Reason = f.Reason };
        if (f.EndedBy is not null) data.EndedBy = f.EndedBy;
        return data;
    }

    private static IRestoreMessage Decode(P.RestoreOutcome? outcome) => outcome?.OutcomeCase switch
    {
        P.RestoreOutcome.OutcomeOneofCase.Completed => new RestoreCompleted(Decode(outcome.Completed)),
        P.RestoreOutcome.OutcomeOneofCase.Failed => new RestoreFailed(
            outcome.Failed.ImagesDir, outcome.Failed.Reason, outcome.Failed.HasEndedBy ? outcome.Failed.EndedBy : null),
        P.RestoreOutcome.OutcomeOneofCase.Held => new RestoreHeld(Decode(outcome.Held)),
        P.RestoreOutcome.OutcomeOneofCase.UnknownJobId => new RestoreJobUnknown(outcome.UnknownJobId),
        _ => throw new SerializationException("a restore outcome in the journal holds none of the outcomes this version knows"),
    };

    private static P.MigrateRequestData Encode(MigrateRequest r) => new() { Pid = r.Pid, From = r.From, To = r.To };

    private static MigrateRequest Decode(P.MigrateRequestData r) => new(r.Pid, r.From, r.To);

    private static P.MigrationOutcome Encode(IMigrationMessage outcome) => outcome switch
    {
        MigrationCompleted c => new P.MigrationOutcome
        {
            Completed = new P.MigrationSummaryData
            {
                MigrationId = c.Summary.MigrationId, SourcePid = c.Summary.SourcePid, From = c.Summary.From, To = c.Summary.To,
                TargetPid = c.Summary.TargetPid, ImageBytes = c.Summary.ImageBytes, BytesSent = c.Summary.BytesSent,
                BytesResent = c.Summary.BytesResent, LinkBreaks = c.Summary.LinkBreaks, Seconds = c.Summary.Seconds,
                TransferSeconds = c.Summary.TransferSeconds, PauseSeconds = c.Summary.PauseSeconds, GpuMap = { Map(c.Summary.GpuMap) },
                TargetRestarts = c.Summary.TargetRestarts, BytesKept = c.Summary.BytesKept,
            },
        },
        MigrationFailed f => new P.MigrationOutcome { Failed = Encode(f) },
        _ => throw Unknown(outcome),
    };

    private static P.MigrationFailedData Encode(MigrationFailed f) =>
        new() { MigrationId = f.MigrationId, Pid = f.Pid, Node = f.Node, Step = f.Step, Reason = f.Reason, SourceResumed = f.SourceResumed };

    private static IMigrationMessage Decode(P.MigrationOutcome? outcome)
    {
        switch (outcome?.OutcomeCase)
        {
            case P.MigrationOutcome.OutcomeOneofCase.Completed:
                var s = outcome.Completed;
                return new MigrationCompleted(new MigrationSummary(s.MigrationId, s.SourcePid, s.From, s.To, s.TargetPid, s.ImageBytes, s.BytesSent,
                    s.BytesResent, s.LinkBreaks, s.Seconds, s.TransferSeconds, s.PauseSeconds, new Dictionary<string, string>(s.GpuMap),
                    s.TargetRestarts, s.BytesKept));
            case P.MigrationOutcome.OutcomeOneofCase.Failed:
                var f = outcome.Failed;
                return new MigrationFailed(f.MigrationId, f.Pid, f.Node, f.Step, f.Reason, f.SourceResumed);
            default:
                throw new SerializationException("a migration outcome in the journal holds none of the outcomes this version knows");
        }
    }

    // ---- checkpoint job -------------------------------------------------------------------------------------------

    private static P.CheckpointStartedEvent Encode(CheckpointStarted e) =>
        new() { JobId = e.JobId, Request = Encode(e.Request), Driver = e.Driver, ChunkSize = e.ChunkSize, ImageId = e.ImageId };

    private static CheckpointStarted Decode(P.CheckpointStartedEvent e) => new(e.JobId, Decode(e.Request), e.Driver, e.ChunkSize, e.ImageId);

    private static P.ProcessPausedEvent Encode(ProcessPaused e) =>
        new() { NumDevices = e.NumDevices, NumBos = e.NumBos, NumObjects = e.NumObjects, PrivDataSize = e.PrivDataSize };

    private static ProcessPaused Decode(P.ProcessPausedEvent e) => new(e.NumDevices, e.NumBos, e.NumObjects, e.PrivDataSize);

    private static P.ChunkSavedEvent Encode(ChunkSaved e) => new()
    {
        Device = e.Device, File = e.File, Offset = e.Offset, Length = e.Length, Checksum = e.Checksum, FirstBo = e.FirstBo, LastBo = e.LastBo,
    };

    private static ChunkSaved Decode(P.ChunkSavedEvent e) => new(e.Device, e.File, e.Offset, e.Length, e.Checksum, e.FirstBo, e.LastBo);

    private static P.ImageCommittedEvent Encode(ImageCommitted e) =>
        new() { Bytes = e.Bytes, Bos = e.Bos, Devices = e.Devices, ReferencedBytes = e.ReferencedBytes };

    private static ImageCommitted Decode(P.ImageCommittedEvent e) => new(e.Bytes, e.Bos, e.Devices, e.ReferencedBytes);

    private static P.CheckpointStateSnapshot Encode(CheckpointState s)
    {
        var data = new P.CheckpointStateSnapshot
        {
            Started = s.Started is null ? null : Encode(s.Started), IntendsPause = s.IntendsPause, Paused = s.Paused is null ? null : Encode(s.Paused),
            Chunks = { s.Chunks.Values.Select(Encode) }, Committed = s.Committed is null ? null : Encode(s.Committed),
            IntendsUnpause = s.IntendsUnpause, Unpaused = s.Unpaused, Finished = s.Finished is null ? null : Encode(s.Finished),
        };
        if (s.Failing is not null) data.Failing = s.Failing;
        if (s.Interrupted is not null) data.Interrupted = s.Interrupted;
        return data;
    }

    private static CheckpointState Decode(P.CheckpointStateSnapshot s) => new()
    {
        Started = s.Started is null ? null : Decode(s.Started), IntendsPause = s.IntendsPause, Paused = s.Paused is null ? null : Decode(s.Paused),
        Chunks = s.Chunks.Select(Decode).ToDictionary(c => c.Key), Committed = s.Committed is null ? null : Decode(s.Committed),
        IntendsUnpause = s.IntendsUnpause, Unpaused = s.Unpaused, Failing = s.HasFailing ? s.Failing : null,
        Finished = s.Finished is null ? null : Decode(s.Finished), Interrupted = s.HasInterrupted ? s.Interrupted : null,
    };

    // ---- restore job ----------------------------------------------------------------------------------------------

    private static P.RestoreStartedEvent Encode(RestoreStarted e)
    {
        var request = new P.RestoreRequestData { ImagesDir = e.Request.ImagesDir, HoldBeforeResume = e.Request.HoldBeforeResume };
        if (e.Request.JobId is not null) request.JobId = e.Request.JobId;
        return new P.RestoreStartedEvent { JobId = e.JobId, Request = request, Driver = e.Driver };
    }

    private static RestoreStarted Decode(P.RestoreStartedEvent e) =>
        new(e.JobId, new RestoreRequest(e.Request.ImagesDir, e.Request.HasJobId ? e.Request.JobId : null, e.Request.HoldBeforeResume), e.Driver);

    private static P.DeviceStateDoneEvent Encode(DeviceStateDone e) =>
        new() { Pid = e.Pid, RestoredOffsets = { e.RestoredOffsets }, RenderPasses = e.RenderPasses };

    private static DeviceStateDone Decode(P.DeviceStateDoneEvent e) => new(e.Pid, e.RestoredOffsets.ToArray(), e.RenderPasses);

    private static ContentChunkWritten Decode(P.ContentChunkWrittenEvent e) => new(e.Device, e.File, e.Offset);

    private static P.PidSummaryEvent Encode(uint pid, RestoreSummary summary) => new() { Pid = pid, Summary = Encode(summary) };

    private static ResumeIntended DecodeResume(P.PidSummaryEvent e) => new(e.Pid, Decode(e.Summary));

    private static RestoreHoldReached DecodeHold(P.PidSummaryEvent e) => new(e.Pid, Decode(e.Summary));

    private static P.RestoreStateSnapshot Encode(RestoreState s)
    {
        var data = new P.RestoreStateSnapshot
        {
            Started = s.Started is null ? null : Encode(s.Started), DeviceState = s.DeviceState is null ? null : Encode(s.DeviceState),
            Written = { s.Written }, ResumeIntended = s.ResumeIntended is null ? null : Encode(s.ResumeIntended.Pid, s.ResumeIntended.Summary),
            Resumed = s.Resumed, Held = s.Held is null ? null : Encode(s.Held.Pid, s.Held.Summary), Finished = s.Finished is null ? null : Encode(s.Finished),
        };
        if (s.Target is { } target) data.Target = target;
        if (s.TargetTag is not null) data.TargetTag = s.TargetTag;
        return data;
    }

    private static RestoreState Decode(P.RestoreStateSnapshot s) => new()
    {
        Started = s.Started is null ? null : Decode(s.Started), Target = s.HasTarget ? s.Target : null, TargetTag = s.HasTargetTag ? s.TargetTag : null,
        DeviceState = s.DeviceState is null ? null : Decode(s.DeviceState), Written = [.. s.Written],
        ResumeIntended = s.ResumeIntended is null ? null : DecodeResume(s.ResumeIntended), Resumed = s.Resumed,
        Held = s.Held is null ? null : DecodeHold(s.Held), Finished = s.Finished is null ? null : Decode(s.Finished),
    };

    // ---- migration ------------------------------------------------------------------------------------------------

    private static MigrationStarted Decode(P.MigrationStartedEvent e) => new(e.MigrationId, Decode(e.Request), e.TargetNode, e.CheckpointJobId);

    private static MigrationCommitted Decode(P.MigrationCommittedEvent e) => new(e.TargetPid, new Dictionary<string, string>(e.GpuMap));

    private static MigrationAborting Decode(P.MigrationAbortingEvent e) => new(e.Node, e.Step, e.Reason);

    private static TargetStarted Decode(P.TargetStartedEvent e) => new(e.MigrationId, e.From, e.CoordinatorNode);

    private static TargetEnded Decode(P.TargetEndedEvent e) => new(e.Pid, e.Outcome);

    // ---- process claim --------------------------------------------------------------------------------------------

    private static Claimed Decode(P.ClaimedEvent e) => new(e.JobId, e.What);
}
