namespace Gpuckpt.Actors.Migration;

/// <summary>What a migration's coordinator journals: its commit point above all.</summary>
public interface IMigrationEvent;

/// <summary>The dry check passed; the source will be paused. <paramref name="TargetNode"/> is the target's address.</summary>
public sealed record MigrationStarted(string MigrationId, MigrateRequest Request, string TargetNode, string CheckpointJobId) : IMigrationEvent;

/// <summary>The commit: the target holds the restored process short of RESUME. From here the migration only goes forward.</summary>
public sealed record MigrationCommitted(uint TargetPid, IReadOnlyDictionary<string, string> GpuMap) : IMigrationEvent;

/// <summary>Before any commit something failed: from here the migration only rolls back (UNPAUSE the source).</summary>
public sealed record MigrationAborting(string Node, string Step, string Reason) : IMigrationEvent;

public sealed record SourceUnpauseIntended : IMigrationEvent;

public sealed record SourceUnpaused(bool TookEffect) : IMigrationEvent;

/// <summary>The target resumed; the source process was killed.</summary>
public sealed record SourceReleased(uint TargetPid) : IMigrationEvent;

public sealed record MigrationFinished(IMigrationMessage Outcome) : IMigrationEvent;

public sealed class MigrationState
{
    public MigrationStarted? Started { get; set; }
    public MigrationCommitted? Committed { get; set; }
    public MigrationAborting? Aborting { get; set; }
    public bool UnpauseIntended { get; set; }
    public bool Unpaused { get; set; }
    public bool Released { get; set; }
    public IMigrationMessage? Finished { get; set; }

    public void Apply(IMigrationEvent e)
    {
        switch (e)
        {
            case MigrationStarted s: Started = s; break;
            case MigrationCommitted c: Committed = c; break;
            case MigrationAborting a: Aborting ??= a; break;
            case SourceUnpauseIntended: UnpauseIntended = true; break;
            case SourceUnpaused: Unpaused = true; break;
            case SourceReleased: Released = true; break;
            case MigrationFinished f: Finished = f.Outcome; break;
        }
    }
}
