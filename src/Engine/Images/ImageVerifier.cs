using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Re-reads a whole image: the manifest's own checksum and state, every file's presence and size, its length prefix,
/// every segment's checksum and, for message files, the protobuf parse. Streams through a bounded buffer, so memory
/// stays flat whatever the image's size; zero segments that are still holes are checked without reading them.
/// </summary>
public static class ImageVerifier
{
    /// <param name="progress">Receives (bytes checked, bytes in the image) after each segment.</param>
    public static VerifyResult Verify(string dir, IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default)
    {
        int files = 0;
        long segments = 0, bytes = 0;
        try
        {
            var manifest = ManifestCodec.Load(dir);
            ImageReader.RequireCommitted(manifest);
            var total = manifest.Files.Sum(f => f.Size);
            var listed = manifest.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var path in System.IO.Directory.EnumerateFiles(dir, "amdgpu-*").Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                if (!listed.Contains(name)) throw new ImageException(name, null, "not listed in the manifest (left over from another image?)");
            }
            foreach (var entry in manifest.Files)
            {
                cancel.ThrowIfCancellationRequested();
                var kind = ImageFileName.Parse(entry.Name).Kind;
                var path = Path.Combine(dir, entry.Name);
                if (!File.Exists(path)) throw new ImageException(entry.Name, null, "missing: the manifest lists it but the image directory has no such file");
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                var size = RandomAccess.GetLength(handle);
                if (size != entry.Size)
                    throw new ImageException(entry.Name, Math.Min(size, entry.Size), size < entry.Size
                        ? $"truncated: {size} bytes, the manifest says {entry.Size}"
                        : $"{size} bytes, the manifest says {entry.Size}");
                SegmentIo.CheckPrefix(handle, entry.Name, size);
                var cover = SegmentCover.Build(entry.Name, entry.Size, entry.Segments);
                foreach (var s in cover.Segments)
                {
                    cancel.ThrowIfCancellationRequested();
                    SegmentIo.Verify(handle, entry.Name, s);
                    segments++;
                    bytes += s.Length;
                    progress?.Report((bytes, total));
                }
                if (MessageFiles.ParserFor(kind) is { } parser) ParseMessage(handle, entry, parser);
                files++;
            }
            return new VerifyResult(true, null, null, null, files, segments, bytes);
        }
        catch (ImageException e)
        {
            return new VerifyResult(false, e.File, e.Offset, e.Reason, files, segments, bytes);
        }
    }

    private static void ParseMessage(SafeFileHandle handle, ManifestFile entry, Google.Protobuf.MessageParser parser)
    {
        // Message files are metadata (kilobytes to a few megabytes): parsing needs them whole.
        var bytes = new byte[entry.Size];
        SegmentIo.ReadExactly(handle, entry.Name, bytes, 0);
        MessageFiles.ParseAny(entry.Name, bytes, parser);
    }
}
