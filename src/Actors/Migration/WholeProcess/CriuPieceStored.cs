namespace Gpuckpt.Actors.Migration;

/// <summary>The target wrote <paramref name="File"/> up to <paramref name="End"/>: the next piece may come.</summary>
public sealed record CriuPieceStored(string MigrationId, string File, long End) : IMigrationMessage;
