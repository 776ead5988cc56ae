namespace Gpuckpt.Engine.Copy;

/// <summary>
/// One unit of copy work: a contiguous range of a page file and the BO pieces that fill it. A chunk holds either one
/// slice of one BO (a large BO yields many chunks, copied in parallel) or whole small BOs back to back (one write).
/// </summary>
public sealed record CopyChunk(long FileOffset, int Length, IReadOnlyList<BoPiece> Pieces, int FileIndex = 0)
{
    public long End => FileOffset + Length;
}
