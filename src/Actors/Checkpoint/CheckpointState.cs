namespace Gpuckpt.Actors.Checkpoint;

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
            case LiveCopyEnded:
                // The running rounds' pause was undone: the final one is a pause of its own, intended, taken and never undone here.
                IntendsPause = false;
                Paused = null;
                IntendsUnpause = false;
                Unpaused = false;
                break;
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
