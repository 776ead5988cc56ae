using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The O_DIRECT path of a page file. The 8-byte length prefix puts every piece 8 bytes past a block boundary, so a
/// piece covers whole blocks in its middle and shares the block at each end with its neighbour. The whole blocks go to
/// the disk straight from the piece's memory where that is aligned too (a buffer of the chunk pool), else through an
/// aligned staging buffer. The partial blocks at its ends go through the page cache: the kernel puts each piece's
/// bytes into the shared page under the page's lock, so neighbours never undo each other, and no piece waits for a
/// block to be read back from the disk (a read and a write of O_DIRECT per end cost more than the chunk's megabytes
/// on a disk that takes milliseconds a request). The kernel keeps both views coherent: an O_DIRECT read or write first
/// writes back the cached pages it covers. When <see cref="Write"/> returns, every byte of the piece is in the file
/// (as with the buffered path): the journal may adopt it after a crash, and a migration may read it back while the rest
/// is still being written; the commit's fsync makes the cached ends durable with the rest.
/// </summary>
public sealed partial class PageFile
{
    /// <summary>Files shorter than this stay buffered: a few blocks gain nothing from O_DIRECT.</summary>
    public const long DirectMinLength = 1 << 20;

    private readonly bool _wantDirect;
    private SafeFileHandle? _direct;

    /// <summary>True when this file's pieces go to the disk with O_DIRECT.</summary>
    public bool Direct => _direct is not null;

    private void WriteDirect(SafeFileHandle handle, long fileOffset, ReadOnlySpan<byte> data)
    {
        const int B = DirectIo.Block;
        var end = fileOffset + data.Length;
        if (fileOffset / B == (end - 1) / B)
        {
            Patch(handle, fileOffset, data);
            return;
        }
        var first = DirectIo.AlignUp(fileOffset);
        var last = DirectIo.AlignDown(end);
        if (first > fileOffset) Patch(handle, fileOffset, data[..(int)(first - fileOffset)]);
        if (last > first)
        {
            var whole = data.Slice((int)(first - fileOffset), (int)(last - first));
            // Whole blocks that lie aligned in memory too (a chunk buffer of the pool) need no staging copy.
            if (DirectIo.IsAligned(whole)) DirectIo.Write(_direct!, FileName, whole, first);
            else WriteStaged(whole, first);
        }
        if (last < end) Patch(handle, last, data[(int)(last - fileOffset)..]);
    }

    /// <summary>Whole blocks from memory that is not aligned: through an aligned staging buffer, one stage at a time.</summary>
    private void WriteStaged(ReadOnlySpan<byte> blocks, long fileOffset)
    {
        var stage = DirectIo.Rent();
        try
        {
            for (var done = 0; done < blocks.Length; done += DirectIo.StageSize)
            {
                var n = Math.Min(DirectIo.StageSize, blocks.Length - done);
                var span = DirectIo.Span(stage, n);
                blocks.Slice(done, n).CopyTo(span);
                DirectIo.Write(_direct!, FileName, span, fileOffset + done);
            }
        }
        finally
        {
            DirectIo.Return(stage);
        }
    }

    /// <summary>Puts <paramref name="part"/> (within one block) at file offset <paramref name="at"/>, through the page cache.</summary>
    private static void Patch(SafeFileHandle handle, long at, ReadOnlySpan<byte> part) => RandomAccess.Write(handle, part, at);

    private void ReleaseDirect() => _direct?.Dispose();
}
