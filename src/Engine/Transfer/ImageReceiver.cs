using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// The receiving end of a streamed image: writes the frames it is given (already checked) into an image of its own,
/// through <see cref="ImageWriter"/>, so the copy is checksummed segment by segment and committed atomically like any
/// image. Page-file frames go straight to their offset; a message file is gathered whole, parsed and written.
/// Thread-safe: frames of page files may be written concurrently.
/// </summary>
public sealed class ImageReceiver : IDisposable
{
    private readonly ImageWriter _writer;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PageFile> _pages = [];
    private readonly Dictionary<string, (byte[] Bytes, HashSet<long> Offsets, long Received)> _messages = [];
    // Message files gathered whole and being (or already) written: a frame sent again meanwhile is not a second copy.
    private readonly HashSet<string> _taken = [];
    private long _bytes;

    /// <summary>
    /// A live migration's copy (<paramref name="throughPageCache"/>) is written through the page cache: all but its last
    /// round arrived while the process ran, and the target restores it inside the source's pause, reading it back from
    /// memory then rather than from the disk. Each write starts its writeback at once, and the commit fsyncs every file,
    /// so the copy is as durable when it is committed. A stop-and-copy migration's copy arrives inside the pause and is
    /// bound by the CPU both nodes share: its page files go to the disk with O_DIRECT like any image's, which spares the
    /// target a copy of every byte into the page cache; its restore then reads them from the disk.
    /// </summary>
    private ImageReceiver(ImageWriter writer, bool throughPageCache)
    {
        _writer = writer;
        if (throughPageCache) writer.DirectIo = false;
    }

    public string Directory => _writer.Directory;

    /// <summary>Payload bytes written so far (frames sent again count once).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Starts the copy in <paramref name="dir"/> (absent or empty) with the source image's identity and topology.</summary>
    /// <param name="throughPageCache">A live migration's copy: every page file through the page cache (see the constructor).</param>
    public static ImageReceiver Create(string dir, ImageHeader header, bool throughPageCache) => new(ImageWriter.Create(dir, header), throughPageCache);

    /// <summary>
    /// Takes up the copy a receiver that died left in <paramref name="dir"/>, when it is an in-progress copy of the same
    /// image: what it wrote stays, to be kept piece by piece through <see cref="Holds"/>. Anything else there (no copy,
    /// another image, a sealed or unreadable one) is deleted and the copy starts empty.
    /// </summary>
    public static ImageReceiver Resume(string dir, ImageHeader header, bool throughPageCache)
    {
        if (System.IO.Directory.Exists(dir))
        {
            try
            {
                var writer = ImageWriter.Reopen(dir);
                if (writer.ImageId == header.ImageId) return new ImageReceiver(writer, throughPageCache);
                writer.Dispose();
            }
            catch (Exception e) when (e is ImageException or IOException or InvalidDataException)
            {
                // Not a copy to continue: it is written again from the first frame.
            }
            System.IO.Directory.Delete(dir, recursive: true);
        }
        return Create(dir, header, throughPageCache);
    }

    /// <summary>
    /// For a check frame: true when the copy holds the piece the frame names with the frame's checksum (a page-file piece
    /// read back and kept as written; a message file written whole). False: the piece must be sent again.
    /// </summary>
    public bool Holds(TransferFrame frame)
    {
        var kind = (ImageFileName.TryParse(frame.FileName) ?? throw new InvalidDataException($"{frame.FileName}: not an image file name")).Kind;
        if (!kind.IsPages()) return _writer.Contains(frame.FileName);
        var file = PagesOf(frame);
        // The length prefix is written when the file is opened; an empty piece holds nothing to lose.
        if (frame.Offset < LengthPrefix.Size || frame.Length == 0) return true;
        if (!file.Adopt(frame.Offset - LengthPrefix.Size, frame.Length, frame.Xxh64)) return false;
        Interlocked.Add(ref _bytes, frame.Length);
        return true;
    }

    /// <summary>Writes one frame's payload; a frame seen before is written again (same bytes, same place).</summary>
    public void Write(TransferFrame frame, ReadOnlySpan<byte> payload)
    {
        var kind = (ImageFileName.TryParse(frame.FileName) ?? throw new InvalidDataException($"{frame.FileName}: not an image file name")).Kind;
        if (kind.IsPages())
        {
            WritePages(frame, payload);
            return;
        }
        // A message file is gathered in memory: its size is capped before anything is allocated for it.
        if (frame.FileSize > MessageFiles.MaxFileSize)
            throw new InvalidDataException($"{frame.FileName}: a message file of {frame.FileSize} bytes (at most {MessageFiles.MaxFileSize}); frame refused");
        byte[]? whole = null;
        lock (_gate)
        {
            if (_taken.Contains(frame.FileName) || _writer.Contains(frame.FileName)) return;
            if (!_messages.TryGetValue(frame.FileName, out var entry))
                _messages[frame.FileName] = entry = (new byte[frame.FileSize], [], 0);
            if (entry.Bytes.Length != frame.FileSize)
                throw new InvalidDataException($"{frame.FileName}: frames disagree on its size ({entry.Bytes.Length} and {frame.FileSize} bytes)");
            payload.CopyTo(entry.Bytes.AsSpan(checked((int)frame.Offset)));
            if (entry.Offsets.Add(frame.Offset)) entry = entry with { Received = entry.Received + frame.Length };
            _messages[frame.FileName] = entry;
            if (entry.Received == entry.Bytes.Length)
            {
                whole = entry.Bytes;
                _messages.Remove(frame.FileName);
                _taken.Add(frame.FileName);
            }
        }
        Interlocked.Add(ref _bytes, frame.Length);
        if (whole is null) return;
        try
        {
            var message = MessageFiles.ParseAny(frame.FileName, whole, MessageFiles.ParserFor(kind)!);
            _writer.WriteMessage(frame.FileName, message);
        }
        catch
        {
            // Not written: the frame is refused, and the one sent again is gathered anew.
            lock (_gate) _taken.Remove(frame.FileName);
            throw;
        }
    }

    /// <summary>The page file a frame belongs to, opened at its first frame; every frame must agree on its size.</summary>
    private PageFile PagesOf(TransferFrame frame)
    {
        PageFile file;
        lock (_gate)
        {
            if (!_pages.TryGetValue(frame.FileName, out file!))
                _pages[frame.FileName] = file = _writer.OpenPages(frame.FileName, frame.FileSize - LengthPrefix.Size);
        }
        if (file.Length != frame.FileSize - LengthPrefix.Size)
            throw new InvalidDataException($"{frame.FileName}: frames disagree on its size ({file.Length + LengthPrefix.Size} and {frame.FileSize} bytes)");
        return file;
    }

    private void WritePages(TransferFrame frame, ReadOnlySpan<byte> payload)
    {
        var file = PagesOf(frame);
        // The length prefix is the page file's own (written when it was opened); a frame of it must agree.
        var payloadOffset = frame.Offset - LengthPrefix.Size;
        if (payloadOffset < 0)
        {
            if (frame.Offset != 0 || frame.Length != LengthPrefix.Size || LengthPrefix.Read(payload) != file.Length)
                throw new InvalidDataException($"{frame.FileName}: offset {frame.Offset}: a frame overlapping the length prefix must be the prefix itself");
            return;
        }
        // The frame's checksum was checked against these bytes when it was decoded: the segment takes it as it is.
        file.Write(payloadOffset, payload, frame.Xxh64);
        Interlocked.Add(ref _bytes, frame.Length);
    }

    /// <summary>
    /// Commits the copy once every file of <paramref name="files"/> arrived whole (a page file not covered, or a message
    /// file missing, is named); signed with <paramref name="signWith"/> when given. Every frame was checked on arrival;
    /// the copy is verified whole by the restore that follows (before any device is touched, against the signature on
    /// a node that requires one), not a second time here.
    /// </summary>
    public ImageManifest Commit(IReadOnlyList<(string Name, long Size)> files, IReadOnlyList<ImageLink> links, ImageKey? signWith = null)
    {
        foreach (var (name, size) in files)
        {
            var kind = ImageFileName.Parse(name).Kind;
            if (kind.IsPages())
            {
                // An empty page file has no frame but its prefix: open it here so it exists in the copy too.
                lock (_gate)
                    if (!_pages.ContainsKey(name)) _pages[name] = _writer.OpenPages(name, size - LengthPrefix.Size);
            }
            else if (!_writer.Contains(name))
                throw new ImageException(name, null, "never arrived whole");
        }
        return _writer.Commit(links, signWith: signWith);
    }

    public void Dispose() => _writer.Dispose();
}
