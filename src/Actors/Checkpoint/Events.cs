namespace Gpuckpt.Actors.Checkpoint;

/// <summary>What a checkpoint job journals: enough to continue it after the engine is killed at any point.</summary>
public interface ICheckpointEvent;

public sealed record CheckpointStarted(string JobId, CheckpointRequest Request, string Driver, int ChunkSize, string ImageId) : ICheckpointEvent;

/// <summary>Recorded before PROCESS_INFO is issued: from here a failed job must make sure the process runs again.</summary>
public sealed record PauseIntended : ICheckpointEvent;

/// <summary>PROCESS_INFO returned: the process is paused (one eviction, which exactly one UNPAUSE undoes).</summary>
public sealed record ProcessPaused(uint NumDevices, uint NumBos, uint NumObjects, ulong PrivDataSize) : ICheckpointEvent;

/// <summary>
/// A PROCESS_INFO intended by a killed engine, with no answer journalled, is settled: UNPAUSE undid it
/// (<paramref name="WasPaused"/>) or found the process not paused. No pause is outstanding; the next is a fresh one.
/// </summary>
public sealed record UnknownPauseUndone(bool WasPaused) : ICheckpointEvent;

/// <summary>
/// One chunk of one page file is written; its checksum lets a restarted job adopt it instead of copying it again.
/// <paramref name="FirstBo"/> and <paramref name="LastBo"/> (KFD bucket indexes or GEM handles) name the BOs whose bytes
/// it holds: one, or the first and last of small BOs that shared the write.
/// </summary>
public sealed record ChunkSaved(string Device, int File, long Offset, int Length, ulong Checksum, uint FirstBo = 0, uint LastBo = 0) : ICheckpointEvent
{
    public string Key => $"{Device}|{File}|{Offset}";

    public static string KeyOf(string device, Engine.Copy.CopyChunk chunk) => $"{device}|{chunk.FileIndex}|{chunk.FileOffset}";
}

/// <param name="ReferencedBytes">Content bytes an incremental image references in its parent instead of holding them.</param>
public sealed record ImageCommitted(long Bytes, int Bos, int Devices, long ReferencedBytes = 0) : ICheckpointEvent;

/// <summary>Recorded before UNPAUSE is issued, so a restart knows it may have been issued already.</summary>
public sealed record UnpauseIntended : ICheckpointEvent;

public sealed record ProcessUnpaused : ICheckpointEvent;

/// <summary>The job cannot complete; from here it only marks the image failed and unpauses.</summary>
public sealed record CheckpointFailing(string Reason) : ICheckpointEvent;

public sealed record CheckpointFinished(ICheckpointMessage Outcome) : ICheckpointEvent;

/// <summary>
/// The user interrupted the job (<paramref name="Signal"/>) before the commit and its pause, if any, was undone: nothing is
/// outstanding, the chunks copied under that pause are stale, and a resume pauses and copies afresh.
/// </summary>
public sealed record CheckpointInterrupted(string Signal) : ICheckpointEvent;

/// <summary>Everything the events say so far; also the snapshot.</summary>
public sealed class CheckpointState : IJobState<ICheckpointEvent>
{
    public CheckpointStarted? Started { get; set; }
    public bool IntendsPause { get; set; }
    public ProcessPaused? Paused { get; set; }
    public Dictionary<string, ChunkSaved> Chunks { get; set; } = new();
    public ImageCommitted? Committed { get; set; }
    public bool IntendsUnpause { get; set; }
    public bool Unpaused { get; set; }
    public string? Failing { get; set; }
    public ICheckpointMessage? Finished { get; set; }
    public string? Interrupted { get; set; }

    object? IJobState<ICheckpointEvent>.Outcome => Finished;

    void IJobState<ICheckpointEvent>.Apply(ICheckpointEvent e) => Apply(e);

    object IJobState<ICheckpointEvent>.Snapshot() => Copy();

    public CheckpointState Apply(ICheckpointEvent e)
    {
        switch (e)
        {
            case CheckpointStarted s: Started = s; break;
            case PauseIntended: IntendsPause = true; Interrupted = null; break;
            case CheckpointInterrupted i:
                Interrupted = i.Signal;
                IntendsPause = false;
                Paused = null;
                Chunks.Clear();
                IntendsUnpause = false;
                Unpaused = false;
                break;
            case UnknownPauseUndone: IntendsPause = false; break;
            case ProcessPaused p: Paused = p; break;
            case ChunkSaved c: Chunks[c.Key] = c; break;
            case ImageCommitted c: Committed = c; break;
            case UnpauseIntended: IntendsUnpause = true; break;
            case ProcessUnpaused: Unpaused = true; break;
            case CheckpointFailing f: Failing ??= f.Reason; break;
            case CheckpointFinished f: Finished = f.Outcome; break;
        }
        return this;
    }

    public CheckpointState Copy() => new()
    {
        Started = Started, IntendsPause = IntendsPause, Paused = Paused, Chunks = new Dictionary<string, ChunkSaved>(Chunks), Committed = Committed,
        IntendsUnpause = IntendsUnpause, Unpaused = Unpaused, Failing = Failing, Finished = Finished, Interrupted = Interrupted,
    };
}
