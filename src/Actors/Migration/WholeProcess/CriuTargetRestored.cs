namespace Gpuckpt.Actors.Migration;

/// <summary>The process runs on the target as <paramref name="Pid"/>; the target removed its copy of the image.</summary>
public sealed record CriuTargetRestored(string MigrationId, uint Pid) : IMigrationMessage;
