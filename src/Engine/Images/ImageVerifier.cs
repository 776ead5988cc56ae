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
    /// All of a whole image (one without a parent, in the current format) but its page files' contents: the manifest,
    /// every file's size, prefix and cover, every metadata file whole, the cross-file rules, and the signature's MACs.
    /// Each page file's signed digest is left to check against its contents as a restore reads them
    /// (<see cref="PageFileReader.Digest"/>): <paramref name="pending"/> holds them, file name to digest; empty for an
    /// unsigned image, whose segments' checksums are checked as they are read. <paramref name="verified"/> holds the
    /// manifest and metadata files it accepted (null when it refused the image), for the restore to build on.
    /// </summary>
    /// <param name="loaded">The manifest as the caller has just loaded it from <paramref name="dir"/> (a large image's takes a while to parse): the one checked and accepted.</param>
    public static VerifyResult VerifyAllButContents(string dir, ImageTrust? trust, out IReadOnlyDictionary<string, string> pending, out VerifiedImage? verified,
        ImageManifest? loaded = null)
    {
        var deferred = new Dictionary<string, string>(StringComparer.Ordinal);
        pending = deferred;
        VerifiedImage? accepted = null;
        var result = RunOne(dir, consistency: true, null, default, trust, out _, deferred, v => accepted = v, loaded);
        verified = result.Ok ? accepted : null;
        return result;
    }

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

    /// <param name="deferred">When given, page files' contents are not read: their signed digests are put here for the reader to check.</param>
    /// <param name="accepted">Given the manifest and the metadata files once the image passed every check.</param>
    private static VerifyResult RunOne(string dir, bool consistency, IProgress<(long Done, long Total)>? progress, CancellationToken cancel, ImageTrust? trust,
        out ParentImage? parent, Dictionary<string, string>? deferred = null, Action<VerifiedImage>? accepted = null, ImageManifest? loaded = null)
    {
        parent = null;
        int files = 0;
        long segments = 0, bytes = 0;
        var current = ImageManifest.FileName;
        try
        {
            var manifest = loaded ?? ManifestCodec.Load(dir);
            ImageReader.RequireCommitted(manifest);
            // The chain is checked before any content is read: a parent that is missing or not the one recorded costs nothing.
            if (deferred is not null && (manifest.Parent is not null || manifest.FormatVersion != ImageManifest.CurrentFormatVersion))
                throw new InvalidOperationException("an image with a parent, or of an older format, is verified whole");
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
            var done = 0L;
            var report = new Lock();
            CriuKfd? kfd = null;
            var renderNodes = new List<(string, CriuRenderNode)>();
            var dmabufs = new List<(string, CriuDmabufNode)>();
            var messages = new Dictionary<string, Google.Protobuf.IMessage>(StringComparer.Ordinal);
            // Files, and the segments of large ones, are read on every core at once; what they found is taken in manifest
            // order, so the first bad file named is the one a reading in order would have named.
            var found = FileChecks.Run(dir, manifest, signed, contents: deferred is null, cancel, length =>
            {
                if (progress is null) return;
                lock (report) progress.Report((Interlocked.Add(ref done, length), Interlocked.Read(ref total)));
            }, inParent => Interlocked.Add(ref total, -inParent));
            for (var i = 0; i < found.Length; i++)
            {
                var entry = manifest.Files[i];
                current = entry.Name;
                found[i].Failure?.Throw();
                segments += found[i].Segments;
                bytes += found[i].Bytes;
                if (found[i].Digest is { } digest) hashes[entry.Name] = digest;
                else if (deferred is not null && signed && ImageFileName.Parse(entry.Name).Kind.IsPages()
                         && manifest.Signature?.Files?.TryGetValue(entry.Name, out var claimed) == true)
                {
                    // Taken as signed for the MACs; the reader checks the contents against it.
                    hashes[entry.Name] = claimed;
                    deferred[entry.Name] = claimed;
                }
                if (found[i].Message is { } message) messages[entry.Name] = message;
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
            accepted?.Invoke(new VerifiedImage(manifest, messages));
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
}
