namespace Gpuckpt.Actors.Restore;

/// <summary>What a restore job journals: enough to finish it, or undo and redo it, after the engine is killed.</summary>
public interface IRestoreEvent;

public sealed record RestoreStarted(string JobId, RestoreRequest Request, string Driver) : IRestoreEvent;

/// <summary>A process to restore into exists on the device (to be discarded if the restore has to start over).</summary>
public sealed record TargetCreated(uint Pid) : IRestoreEvent;

public sealed record TargetDiscarded(uint Pid) : IRestoreEvent;

/// <summary>KFD RESTORE and every render-node BO are done: a restarted job only has contents left to write.</summary>
public sealed record DeviceStateDone(uint Pid, IReadOnlyList<ulong> RestoredOffsets, int RenderPasses) : IRestoreEvent;

/// <summary>One chunk of contents is in the restored process's memory.</summary>
public sealed record ContentChunkWritten(string Device, int File, long Offset) : IRestoreEvent
{
    public string Key => $"{Device}|{File}|{Offset}";

    public static string KeyOf(string device, Engine.Copy.CopyChunk chunk) => $"{device}|{chunk.FileIndex}|{chunk.FileOffset}";
}

/// <summary>Recorded before RESUME is issued, so a restart knows it may have been issued already.</summary>
public sealed record ResumeIntended(uint Pid, RestoreSummary Summary) : IRestoreEvent;

public sealed record ProcessResumed(uint Pid) : IRestoreEvent;

/// <summary>A held restore reached its hold point: everything but RESUME is in place.</summary>
public sealed record RestoreHoldReached(uint Pid, RestoreSummary Summary) : IRestoreEvent;

public sealed record RestoreFinished(IRestoreMessage Outcome) : IRestoreEvent;

/// <summary>Everything the events say so far.</summary>
public sealed class RestoreState : IJobState<IRestoreEvent>
{
    public RestoreStarted? Started { get; set; }
    public uint? Target { get; set; }
    public DeviceStateDone? DeviceState { get; set; }
    public HashSet<string> Written { get; set; } = [];
    public ResumeIntended? ResumeIntended { get; set; }
    public bool Resumed { get; set; }
    public RestoreHoldReached? Held { get; set; }
    public IRestoreMessage? Finished { get; set; }

    object? IJobState<IRestoreEvent>.Outcome => Finished;

    void IJobState<IRestoreEvent>.Apply(IRestoreEvent e) => Apply(e);

    object IJobState<IRestoreEvent>.Snapshot() => Copy();

    public RestoreState Apply(IRestoreEvent e)
    {
        switch (e)
        {
            case RestoreStarted s: Started = s; break;
            case TargetCreated t: Target = t.Pid; break;
            case TargetDiscarded: Target = null; DeviceState = null; Written.Clear(); break;
            case DeviceStateDone d: DeviceState = d; break;
            case ContentChunkWritten c: Written.Add(c.Key); break;
            case ResumeIntended r: ResumeIntended = r; break;
            case ProcessResumed: Resumed = true; break;
            case RestoreHoldReached h: Held = h; break;
            case RestoreFinished f: Finished = f.Outcome; break;
        }
        return this;
    }

    public RestoreState Copy() => new()
    {
        Started = Started, Target = Target, DeviceState = DeviceState, Written = [.. Written],
        ResumeIntended = ResumeIntended, Resumed = Resumed, Held = Held, Finished = Finished,
    };
}
