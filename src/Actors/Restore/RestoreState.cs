namespace Gpuckpt.Actors.Restore;

/// <summary>Everything the events say so far.</summary>
public sealed class RestoreState : IJobState<IRestoreEvent>
{
    public RestoreStarted? Started { get; set; }
    public uint? Target { get; set; }
    public string? TargetTag { get; set; }
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
            case TargetIntended i: TargetTag = i.Tag; break;
            case TargetCreated t: Target = t.Pid; break;
            case TargetDiscarded: Target = null; TargetTag = null; DeviceState = null; Written.Clear(); break;
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
        Started = Started, Target = Target, TargetTag = TargetTag, DeviceState = DeviceState, Written = [.. Written],
        ResumeIntended = ResumeIntended, Resumed = Resumed, Held = Held, Finished = Finished,
    };
}
