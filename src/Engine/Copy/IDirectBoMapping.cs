namespace Gpuckpt.Engine.Copy;

/// <summary>
/// A BO mapping whose bytes file I/O can use in place: a checkpoint hashes and writes them straight to the page file,
/// a restore reads the page file straight into them, with no copy through a buffer.
/// </summary>
public interface IDirectBoMapping
{
    /// <summary>The mapped bytes [offset, offset+length), valid until the mapping is disposed.</summary>
    Span<byte> Span(ulong offset, int length);

    /// <summary>Makes [offset, offset+length) resident before it is copied, in one call; advisory.</summary>
    void Prefetch(ulong offset, int length, bool write);

    /// <summary>Lets go of [offset, offset+length) once copied, so the process's memory stays flat; advisory.</summary>
    void Release(ulong offset, int length);
}
