namespace Gpuckpt.Actors.Migration;

/// <summary>The target can restore the process and made an empty directory for its image; its sender is the target.</summary>
public sealed record CriuTargetReady(string MigrationId, string CriuVersion) : IMigrationMessage;
