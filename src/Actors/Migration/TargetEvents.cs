namespace Gpuckpt.Actors.Migration;

/// <summary>What the target side of a migration journals: enough to finish or discard it after its engine restarts.</summary>
public interface ITargetEvent;

/// <summary>This node is the target of <paramref name="MigrationId"/>; the coordinator runs on <paramref name="CoordinatorNode"/> (its address).</summary>
public sealed record TargetStarted(string MigrationId, string From, string CoordinatorNode) : ITargetEvent;

/// <summary>The held restore of the copy runs as this job.</summary>
public sealed record TargetRestoreStarted(string RestoreJobId) : ITargetEvent;

/// <summary>The coordinator's commit reached this node: from here the target only goes forward.</summary>
public sealed record TargetCommitSeen : ITargetEvent;

/// <summary>The target side is over: the process resumed as <paramref name="Pid"/>, or (Pid 0) everything was discarded.</summary>
public sealed record TargetEnded(uint Pid, string Outcome) : ITargetEvent;

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
