using Google.Protobuf;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images.Proto;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Re-reads a whole image: the manifest's own checksum and state, every file's presence and size, its length prefix,
/// every segment's checksum and, for message files, the protobuf parse; then the cross-file rules a restore relies on
/// (<see cref="ImageConsistency"/>). Streams through a bounded buffer, so memory stays flat whatever the image's size;
/// zero segments that are still holes are checked without reading them. Every failure names a file: a manifest that
/// claims sizes the files do not have costs nothing, since claims are compared with the files before anything is read.
/// </summary>
public static class ImageVerifier
{
    /// <param name="progress">Receives (bytes checked, bytes in the image) after each segment.</param>
    /// <param name="trust">The node key to check a signature with, and whether an unsigned image is refused; null: signatures unchecked.</param>
    public static VerifyResult Verify(string dir, IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default, ImageTrust? trust = null) =>
        Run(dir, consistency: true, progress, cancel, trust);

    /// <summary>Files, segments, prefixes and message parses only: for images that hold contents but no process (tests of the format).</summary>
    public static VerifyResult VerifyFiles(string dir) => Run(dir, consistency: false, null, default, null);

    /// <summary>
    /// One image, then its parent, and the parent's parent, as far as the chain goes: each must verify under the same
    /// trust. A failure in a parent names its file by its full path.
    /// </summary>
    private static VerifyResult Run(string dir, bool consistency, IProgress<(long Done, long Total)>? progress, CancellationToken cancel, ImageTrust? trust)
    {
        var result = RunOne(dir, consistency, progress, cancel, trust, out var parent);
        if (!result.Ok || parent is null) return result;
        var up = Run(parent.Directory, consistency, null, cancel, trust);
        var file = up.File is null || Path.IsPathRooted(up.File) ? up.File : Path.Combine(parent.Directory, up.File);
        return up with
        {
            File = file,
            FilesChecked = result.FilesChecked + up.FilesChecked,
            SegmentsChecked = result.SegmentsChecked + up.SegmentsChecked,
            BytesChecked = result.BytesChecked + up.BytesChecked,
        };
    }

    private static VerifyResult RunOne(string dir, bool consistency, IProgress<(long Done, long Total)>? progress, CancellationToken cancel, ImageTrust? trust,
        out ParentImage? parent)
    {
        parent = null;
        int files = 0;
        long segments = 0, bytes = 0;
        var current = ImageManifest.FileName;
        try
        {
            var manifest = ManifestCodec.Load(dir);
            ImageReader.RequireCommitted(manifest);
            // The chain is checked before any content is read: a parent that is missing or not the one recorded costs nothing.
            if (manifest.Parent is { } recorded)
            {
                parent = ParentImage.Open(Path.GetFullPath(dir), recorded);
                parent.CheckReferences(manifest);
            }
            var total = manifest.Files.Aggregate(0L, (sum, f) => sum > long.MaxValue - f.Size ? long.MaxValue : sum + f.Size);
            var listed = manifest.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var path in System.IO.Directory.EnumerateFiles(dir, "amdgpu-*").Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                if (!listed.Contains(name)) throw new ImageException(ManifestRules.Printable(name), null, "not listed in the manifest (left over from another image?)");
            }
            if (trust is { Require: true, Key: null }) throw new ImageException(ImageManifest.FileName, null, "signed images are required but this engine has no image key");
            var signed = trust?.Key is not null && (manifest.Signature is not null || trust.Require);
            var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
            CriuKfd? kfd = null;
            var renderNodes = new List<(string, CriuRenderNode)>();
            var dmabufs = new List<(string, CriuDmabufNode)>();
            // Files are read on every core at once; what they found is taken in manifest order, so the first bad file
            // named is the one a reading in order would have named.
            var found = new FileFound[manifest.Files.Count];
            var done = 0L;
            var report = new Lock();
            Parallel.For(0, found.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancel }, i =>
            {
                try
                {
                    found[i] = VerifyFile(dir, manifest.Files[i], signed, cancel, length =>
                    {
                        if (progress is null) return;
                        lock (report) progress.Report((done += length, total));
                    }, inParent => Interlocked.Add(ref total, -inParent));
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    found[i] = new FileFound(null, null, 0, 0, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e));
                }
            });
            for (var i = 0; i < found.Length; i++)
            {
                var entry = manifest.Files[i];
                current = entry.Name;
                found[i].Failure?.Throw();
                segments += found[i].Segments;
                bytes += found[i].Bytes;
                if (found[i].Sha256 is { } sha) hashes[entry.Name] = sha;
                switch (found[i].Message)
                {
                    case CriuKfd k: kfd = k; break;
                    case CriuRenderNode n: renderNodes.Add((entry.Name, n)); break;
                    case CriuDmabufNode d: dmabufs.Add((entry.Name, d)); break;
                }
                files++;
            }
            current = ImageManifest.FileName;
            if (signed) ImageSignature.Check(manifest, hashes, trust!.Key!);
            if (!consistency) return new VerifyResult(true, null, null, null, files, segments, bytes);
            var kfdFile = ImageFileName.Kfd(ImageIds.Kfd);
            if (kfd is null) throw new ImageException(kfdFile, null, "missing: the manifest does not list it");
            ImageConsistency.Check(manifest, kfd, renderNodes, dmabufs);
            return new VerifyResult(true, null, null, null, files, segments, bytes);
        }
        catch (ImageException e)
        {
            return new VerifyResult(false, e.File, e.Offset, e.Reason, files, segments, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OverflowException)
        {
            // The file system's own refusal (EACCES, EIO, a directory where a file should be): still the file's fault.
            return new VerifyResult(false, current, null, e is OverflowException ? "a count or size overflows 64 bits" : e.Message, files, segments, bytes);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // A case no rule above foresaw: still an answer naming the file, never a crash without one.
            return new VerifyResult(false, current, null, $"internal error: {e.Message}", files, segments, bytes);
        }
    }

    /// <summary>What one file holds: its SHA-256 when signed, its message, how much it checked; or why it is refused.</summary>
    private readonly record struct FileFound(string? Sha256, IMessage? Message, long Segments, long Bytes,
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? Failure = null);

    /// <summary>One file: its size and prefix, every segment against its checksum (and the whole against SHA-256 when signed), its message parsed.</summary>
    private static FileFound VerifyFile(string dir, ManifestFile entry, bool signed, CancellationToken cancel, Action<long> checkedBytes, Action<long> inParent)
    {
        var kind = ImageFileName.Parse(entry.Name).Kind;
        using var handle = ImageFiles.OpenRead(dir, entry.Name);
        var size = RandomAccess.GetLength(handle);
        if (size != entry.Size)
            throw new ImageException(entry.Name, Math.Min(size, entry.Size), size < entry.Size
                ? $"truncated: {size} bytes, the manifest says {entry.Size}"
                : $"{size} bytes, the manifest says {entry.Size}");
        SegmentIo.CheckPrefix(handle, entry.Name, size);
        var cover = SegmentCover.Build(entry.Name, entry.Size, entry.Segments);
        using var sha256 = signed ? System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256) : null;
        long segments = 0, bytes = 0;
        foreach (var s in cover.Segments)
        {
            cancel.ThrowIfCancellationRequested();
            // A chunk in the parent is checked there; here only the signature covers what the file holds (a hole).
            if (s.InParent)
            {
                // Counted where its bytes are, when the parent is verified.
                SegmentIo.Digest(handle, entry.Name, s, sha256);
                inParent(s.Length);
                continue;
            }
            SegmentIo.Verify(handle, entry.Name, s, sha256);
            segments++;
            bytes += s.Length;
            checkedBytes(s.Length);
        }
        var message = MessageFiles.ParserFor(kind) is { } parser ? ParseMessage(handle, entry, parser) : null;
        return new FileFound(sha256 is null ? null : Convert.ToHexStringLower(sha256.GetHashAndReset()), message, segments, bytes);
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
