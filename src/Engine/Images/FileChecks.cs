using System.Runtime.ExceptionServices;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The per-file part of a verify: each file's size and length prefix, every segment against its checksum (and its
/// SHA-256 when the image's signature is checked), the message a metadata file holds. Files are checked on every core
/// at once, and a large file's segments in batches on every core too: a signed image of one large page file is not
/// hashed on one thread. Each file's first failure in reading order is kept (its size and prefix before its segments,
/// segments by offset), so the failure named does not depend on which thread found it first.
/// </summary>
internal static class FileChecks
{
    /// <summary>Files larger than this are checked in batches of segments of about <see cref="BatchBytes"/>.</summary>
    private const long LargeFile = 64L << 20;

    private const long BatchBytes = 32L << 20;

    /// <summary>What one file holds: its digest when signed, its message, how much it checked; or why it is refused.</summary>
    internal readonly record struct FileFound(string? Digest, IMessage? Message, long Segments, long Bytes, ExceptionDispatchInfo? Failure = null);

    /// <summary>A file whole (<see cref="Count"/> -1), or segments [First, First + Count) of a large one whose size and prefix were checked.</summary>
    private readonly record struct Work(int File, int First, int Count);

    private sealed class FileState
    {
        public SegmentCover? Cover;
        public byte[][]? Digests;
        public IMessage? Message;
        public string? Digest;
        public long Segments, Bytes;
        public long FailedAt = long.MaxValue;
        public ExceptionDispatchInfo? Failure;

        /// <summary>Keeps the failure that a reading in order meets first: <paramref name="at"/> -1 for the file's own checks.</summary>
        public void Fail(long at, Exception e)
        {
            lock (this)
            {
                if (at >= FailedAt) return;
                FailedAt = at;
                Failure = ExceptionDispatchInfo.Capture(e);
            }
        }
    }

    /// <param name="contents">False: page files' segments are not read (their size, prefix and cover still are).</param>
    public static FileFound[] Run(string dir, ImageManifest manifest, bool signed, bool contents, CancellationToken cancel, Action<long> checkedBytes, Action<long> inParent)
    {
        var files = manifest.Files;
        // A format 1 image signed each whole file; later formats, the leaves of its segments, by the format's hash.
        var leafHash = signed && manifest.FormatVersion != FileDigest.WholeFileFormat ? LeafHash.Of(manifest.FormatVersion) : null;
        var states = files.Select(_ => new FileState()).ToArray();
        var work = new List<Work>();
        for (var i = 0; i < files.Count; i++)
        {
            var entry = files[i];
            if (entry.Size <= LargeFile || !ImageFileName.Parse(entry.Name).Kind.IsPages())
            {
                work.Add(new Work(i, 0, -1));
                continue;
            }
            // A large file's own checks come first, here: a manifest that claims sizes the file does not have costs nothing.
            try
            {
                using var handle = Open(dir, entry, states[i]);
                states[i].Digests = leafHash is not null ? new byte[states[i].Cover!.Segments.Count][] : null;
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                states[i].Fail(-1, e);
                continue;
            }
            if (!contents) continue;
            var segments = states[i].Cover!.Segments;
            for (int first = 0, k = 0; k < segments.Count; first = k)
            {
                long batch = 0;
                while (k < segments.Count && (k == first || batch + segments[k].Length <= BatchBytes)) batch += segments[k++].Length;
                work.Add(new Work(i, first, k - first));
            }
        }
        Parallel.ForEach(work, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancel }, w =>
        {
            var entry = files[w.File];
            var state = states[w.File];
            try
            {
                if (w.Count < 0)
                {
                    using var handle = Open(dir, entry, state);
                    var kind = ImageFileName.Parse(entry.Name).Kind;
                    if (!contents && kind.IsPages()) return;
                    var count = state.Cover!.Segments.Count;
                    state.Digests = leafHash is not null ? new byte[count][] : null;
                    CheckSegments(handle, entry.Name, state, leafHash, 0, count, cancel, checkedBytes, inParent);
                    if (MessageFiles.ParserFor(kind) is { } parser)
                        state.Message = ParseMessage(handle, entry, parser);
                }
                else
                {
                    using var handle = ImageFiles.OpenRead(dir, entry.Name);
                    CheckSegments(handle, entry.Name, state, leafHash, w.First, w.Count, cancel, checkedBytes, inParent);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                state.Fail(e is ImageException { Offset: { } at } && w.Count >= 0 ? at : -1, e);
            }
        });
        var found = new FileFound[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancel }, i =>
        {
            var state = states[i];
            if (state.Failure is null && signed && (contents || !ImageFileName.Parse(files[i].Name).Kind.IsPages()))
            {
                try
                {
                    // A format 1 image signed each whole file, read in order.
                    state.Digest = leafHash is not null
                        ? FileDigest.Combine(state.Cover!.Segments, k => state.Digests![k])
                        : ImageFiles.Sha256(dir, files[i].Name);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    state.Fail(long.MaxValue - 1, e);
                }
            }
            found[i] = new FileFound(state.Digest, state.Message, state.Segments, state.Bytes, state.Failure);
        });
        return found;
    }

    /// <summary>Opens a file and checks what it is before any segment is read: its size against the manifest, its length prefix, its cover.</summary>
    private static SafeFileHandle Open(string dir, ManifestFile entry, FileState state)
    {
        var handle = ImageFiles.OpenRead(dir, entry.Name);
        try
        {
            var size = RandomAccess.GetLength(handle);
            if (size != entry.Size)
                throw new ImageException(entry.Name, Math.Min(size, entry.Size), size < entry.Size
                    ? $"truncated: {size} bytes, the manifest says {entry.Size}"
                    : $"{size} bytes, the manifest says {entry.Size}");
            SegmentIo.CheckPrefix(handle, entry.Name, size);
            state.Cover = SegmentCover.Build(entry.Name, entry.Size, entry.Segments);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void CheckSegments(SafeFileHandle handle, string file, FileState state, LeafHash? leafHash, int first, int count, CancellationToken cancel,
        Action<long> checkedBytes, Action<long> inParent)
    {
        var segments = state.Cover!.Segments;
        long checkedSegments = 0, bytes = 0;
        for (var k = first; k < first + count; k++)
        {
            cancel.ThrowIfCancellationRequested();
            var s = segments[k];
            byte[]? digest = null;
            if (s.InParent)
            {
                // A chunk in the parent is checked there; here only the digest covers what the file holds (a hole).
                // Counted where its bytes are, when the parent is verified.
                if (state.Digests is not null) digest = FileDigest.OfSegment(handle, file, s, leafHash!);
                inParent(s.Length);
            }
            else
            {
                SegmentIo.Verify(handle, file, s, state.Digests is not null ? leafHash : null, out digest);
                checkedSegments++;
                bytes += s.Length;
                checkedBytes(s.Length);
            }
            if (state.Digests is not null) state.Digests[k] = digest!;
        }
        Interlocked.Add(ref state.Segments, checkedSegments);
        Interlocked.Add(ref state.Bytes, bytes);
    }

    private static IMessage ParseMessage(SafeFileHandle handle, ManifestFile entry, MessageParser parser)
    {
        // Message files are metadata (kilobytes to a few megabytes): parsing needs them whole, so their size is capped.
        if (entry.Size > MessageFiles.MaxFileSize)
            throw new ImageException(entry.Name, null, $"{entry.Size} bytes: a message file is at most {MessageFiles.MaxFileSize}");
        var bytes = new byte[entry.Size];
        SegmentIo.ReadExactly(handle, entry.Name, bytes, 0);
        return MessageFiles.ParseAny(entry.Name, bytes, parser);
    }
}
