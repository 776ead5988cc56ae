namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The source heard nothing in time: the target says whether it restored the process (then it stays there) or
/// removes what it got and restores nothing (<see cref="CriuTargetAborted"/>). <paramref name="Pid"/> is the process's
/// pid, for a target node that no longer holds the migration (restarted) to look at.
/// </summary>
public sealed record CriuAbortTarget(string MigrationId, uint Pid = 0) : IMigrationMessage;
