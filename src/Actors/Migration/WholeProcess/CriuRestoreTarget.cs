namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Every file was sent: verify process.json over what arrived and <c>criu restore</c> it, answering
/// <see cref="CriuTargetRestored"/> or <see cref="TargetFailed"/> (after removing what arrived).
/// </summary>
public sealed record CriuRestoreTarget(string MigrationId, int Files, long Bytes) : IMigrationMessage;
