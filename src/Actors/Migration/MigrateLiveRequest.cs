namespace Gpuckpt.Actors.Migration;

/// <summary>
/// <see cref="MigrateRequest"/>'s move, live (pre-copy): the process is copied while it runs, in rounds, and paused
/// only for what it wrote during the last one. The outcome is preceded by a <see cref="LiveRoundsReport"/>.
/// </summary>
public sealed record MigrateLiveRequest(uint Pid, string From, string To) : IMigrationMessage
{
    public MigrateRequest Request => new(Pid, From, To);
}
