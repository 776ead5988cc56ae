namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// A piece of an image file to send: bytes [Offset, Offset+Length) of <paramref name="FileName"/> (the 8-byte length
/// prefix counts), which must hash to <paramref name="Xxh64"/> when read back from the source image. The same place
/// with other bytes (written again by a live copy's later round) is another piece.
/// </summary>
public sealed record TransferPiece(string FileName, long FileSize, long Offset, long Length, ulong Xxh64)
{
    public string Key => $"{FileName}@{Offset}:{Xxh64:x16}";
}
