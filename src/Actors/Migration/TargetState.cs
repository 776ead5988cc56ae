namespace Gpuckpt.Actors.Migration;

public sealed class TargetState
{
    public TargetStarted? Started { get; set; }
    public string? RestoreJobId { get; set; }
    public bool CommitSeen { get; set; }
    public TargetEnded? Ended { get; set; }

    public void Apply(ITargetEvent e)
    {
        switch (e)
        {
            case TargetStarted s: Started = s; break;
            case TargetRestoreStarted r: RestoreJobId = r.RestoreJobId; break;
            case TargetCommitSeen: CommitSeen = true; break;
            case TargetEnded end: Ended = end; break;
        }
    }
}
