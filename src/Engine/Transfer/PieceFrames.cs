using System.IO.Hashing;
using Gpuckpt.Engine.Images;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// A <see cref="TransferPiece"/> read back from the source image into frames: each frame an array of
/// <see cref="FramePool.Shared"/> holding its header and its bytes, the piece checked against its checksum; and a lost
/// frame read again, checked against what was sent first. Blocking: the sender runs these as tasks.
/// </summary>
public static class PieceFrames
{
    /// <summary>
    /// Cuts the piece into frames of at most <paramref name="frameSize"/> bytes numbered from <paramref name="firstSeq"/>
    /// (an empty piece is one empty frame). Throws naming the file and the offset when the bytes no longer hash to the
    /// piece's checksum; its frames then go back to the pool.
    /// </summary>
    public static IReadOnlyList<(long Seq, byte[] Frame)> Read(string dir, TransferPiece piece, long firstSeq, int frameSize)
    {
        var frames = new List<(long, byte[])>();
        using var handle = File.OpenHandle(Path.Combine(dir, piece.FileName), FileMode.Open, FileAccess.Read);
        var whole = new XxHash64();
        try
        {
            for (long at = 0, seq = firstSeq; at < piece.Length || (piece.Length == 0 && seq == firstSeq); at += frameSize, seq++)
            {
                var length = (int)Math.Min(frameSize, piece.Length - at);
                frames.Add((seq, Frame(handle, seq, piece.FileName, piece.FileSize, piece.Offset + at, length, whole, out _)));
            }
        }
        catch
        {
            foreach (var (_, frame) in frames) FramePool.Shared.Return(frame);
            throw;
        }
        var actual = whole.GetCurrentHashAsUInt64();
        if (actual != piece.Xxh64)
        {
            foreach (var (_, frame) in frames) FramePool.Shared.Return(frame);
            throw new InvalidDataException($"{piece.FileName}: offset {piece.Offset}: source chunk checksum mismatch (recorded {piece.Xxh64:x16}, reads {actual:x16})");
        }
        return frames;
    }

    /// <summary>Reads a lost frame's bytes again into a new frame of the same number; they must still hash to what was sent first.</summary>
    public static byte[] ReadAgain(string dir, TransferFrame lost)
    {
        using var handle = File.OpenHandle(Path.Combine(dir, lost.FileName), FileMode.Open, FileAccess.Read);
        var frame = Frame(handle, lost.Seq, lost.FileName, lost.FileSize, lost.Offset, lost.Length, null, out var actual);
        if (actual != lost.Xxh64)
        {
            FramePool.Shared.Return(frame);
            throw new InvalidDataException($"{lost.FileName}: offset {lost.Offset}: source bytes changed since they were sent (sent {lost.Xxh64:x16}, reads {actual:x16})");
        }
        return frame;
    }

    /// <summary>
    /// Reads [<paramref name="offset"/>, +<paramref name="length"/>) of a source file straight into a frame's array and
    /// puts the header in front; the bytes are also appended to <paramref name="whole"/> when given. <paramref name="xxh64"/> is their checksum.
    /// </summary>
    private static byte[] Frame(SafeFileHandle handle, long seq, string fileName, long fileSize, long offset, int length, XxHash64? whole, out ulong xxh64)
    {
        var payloadAt = TransferFrame.HeaderSize(fileName);
        var buffer = FramePool.Shared.Rent(payloadAt + length);
        var payload = buffer.AsSpan(payloadAt, length);
        try
        {
            SegmentIo.ReadExactly(handle, fileName, payload, offset);
        }
        catch
        {
            FramePool.Shared.Return(buffer);
            throw;
        }
        whole?.Append(payload);
        var frame = TransferFrame.EncodeAround(buffer, seq, fileName, fileSize, offset, length, out xxh64);
        if (frame != buffer) FramePool.Shared.Return(buffer);
        return frame;
    }
}
