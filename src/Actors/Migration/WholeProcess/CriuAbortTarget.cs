namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The source heard nothing in time: the target says whether it restored the process (then it stays there) or
/// removes what it got and restores nothing (<see cref="CriuTargetAborted"/>).
/// </summary>
public sealed record CriuAbortTarget(string MigrationId) : IMigrationMessage;
