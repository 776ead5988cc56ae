namespace Gpuckpt.Actors.Restore;

/// <summary>What a restore job journals: enough to finish it, or undo and redo it, after the engine is killed.</summary>
public interface IRestoreEvent;

public sealed record RestoreStarted(string JobId, RestoreRequest Request, string Driver) : IRestoreEvent;

/// <summary>A process to restore into exists on the device (to be discarded if the restore has to start over).</summary>
public sealed record TargetCreated(uint Pid) : IRestoreEvent;

public sealed record TargetDiscarded(uint Pid) : IRestoreEvent;

/// <summary>Recorded before RESUME is issued, so a restart knows it may have been issued already.</summary>
public sealed record ResumeIntended(uint Pid, RestoreSummary Summary) : IRestoreEvent;

public sealed record ProcessResumed(uint Pid) : IRestoreEvent;

public sealed record RestoreFinished(IRestoreMessage Outcome) : IRestoreEvent;

/// <summary>Everything the events say so far.</summary>
public sealed class RestoreState
{
    public RestoreStarted? Started { get; set; }
    public uint? Target { get; set; }
    public ResumeIntended? ResumeIntended { get; set; }
    public bool Resumed { get; set; }
    public IRestoreMessage? Finished { get; set; }

    public RestoreState Apply(IRestoreEvent e)
    {
        switch (e)
        {
            case RestoreStarted s: Started = s; break;
            case TargetCreated t: Target = t.Pid; break;
            case TargetDiscarded: Target = null; break;
            case ResumeIntended r: ResumeIntended = r; break;
            case ProcessResumed: Resumed = true; break;
            case RestoreFinished f: Finished = f.Outcome; break;
        }
        return this;
    }
}
