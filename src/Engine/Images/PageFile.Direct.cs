using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The O_DIRECT path of a page file. The 8-byte length prefix puts every piece 8 bytes past a block boundary, so a
/// piece covers whole blocks in its middle and shares the block at each end with its neighbour. The whole blocks go to
/// the disk straight from the piece's memory where that is aligned too (a buffer of the chunk pool), else through an
/// aligned staging buffer. A shared block is patched: read, the piece's bytes put in, written back, one patch of the
/// file at a time, so that neighbours never undo each other. When <see cref="Write"/> returns, every byte of the piece
/// is in the file (as with the buffered path): the journal may adopt it after a crash, and a migration may read it
/// back while the rest is still being written. The last block of the file, shorter than <see cref="DirectIo.Block"/>,
/// is patched through the page cache; no other block ever is.
/// </summary>
public sealed partial class PageFile
{
    /// <summary>Files shorter than this stay buffered: a few blocks gain nothing from O_DIRECT.</summary>
    public const long DirectMinLength = 1 << 20;

    private readonly bool _wantDirect;
    private SafeFileHandle? _direct;
    private readonly Lock _patchGate = new();
    private nint _patchBlock; // the aligned block patches go through, under _patchGate

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

    /// <summary>Puts <paramref name="part"/> at file offset <paramref name="at"/> into the block that holds it: read, change, write.</summary>
    private void Patch(SafeFileHandle handle, long at, ReadOnlySpan<byte> part)
    {
        const int B = DirectIo.Block;
        var start = DirectIo.AlignDown(at);
        var length = (int)Math.Min(B, LengthPrefix.Size + Length - start);
        lock (_patchGate)
        {
            if (_patchBlock == 0) _patchBlock = DirectIo.AllocBlock();
            var block = DirectIo.Span(_patchBlock, B);
            if (length == B)
            {
                if (DirectIo.Read(_direct!, FileName, block, start) != B)
                    throw new ImageException(FileName, start, "file ends early (truncated) while it is written");
            }
            else
            {
                SegmentIo.ReadExactly(handle, FileName, block[..length], start);
            }
            part.CopyTo(block[(int)(at - start)..]);
            if (length == B) DirectIo.Write(_direct!, FileName, block, start);
            else RandomAccess.Write(handle, block[..length], start);
        }
    }

    private void ReleaseDirect()
    {
        lock (_patchGate)
        {
            if (_patchBlock != 0) DirectIo.FreeBlock(_patchBlock);
            _patchBlock = 0;
        }
        _direct?.Dispose();
    }
}
