namespace Gpuckpt.Actors.Migration;

/// <summary>Bytes of one file of a whole-process image, at <paramref name="Offset"/>; <paramref name="Last"/> ends the file.</summary>
public sealed record CriuImagePiece(string MigrationId, string File, long Offset, byte[] Data, bool Last) : IMigrationMessage;
