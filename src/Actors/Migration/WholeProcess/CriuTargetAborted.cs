namespace Gpuckpt.Actors.Migration;

/// <summary>The target's last word: the process runs there as <paramref name="Pid"/> (<paramref name="Restored"/>), or nothing of it is left there.</summary>
public sealed record CriuTargetAborted(string MigrationId, bool Restored, uint Pid, string? Reason) : IMigrationMessage;
