using System.Security.Cryptography;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The parent of an incremental image, opened for it: its manifest, checked to be the one the child recorded (or, for a
/// child being written, the one it will record), and the segments of its page files by offset. A chunk of the child is
/// referenced instead of written when the parent has a segment at the same offset of the same file, of the same length
/// and checksum (<see cref="Holds"/>). Errors name the parent's files by their full path.
/// </summary>
public sealed class ParentImage
{
    private readonly Dictionary<string, Dictionary<long, Segment>> _segments;

    private ParentImage(string directory, ImageManifest manifest, ImageParent identity)
    {
        Directory = directory;
        Manifest = manifest;
        Identity = identity;
        _segments = manifest.Files
            .Where(f => ImageFileName.TryParse(f.Name)?.Kind.IsPages() == true)
            .ToDictionary(f => f.Name, f => f.Segments.ToDictionary(s => s.Offset), StringComparer.Ordinal);
    }

    /// <summary>The parent's directory, full path.</summary>
    public string Directory { get; }

    public ImageManifest Manifest { get; }

    /// <summary>What the child records: the path, the image id and the manifest's SHA-256.</summary>
    public ImageParent Identity { get; }

    /// <summary>
    /// The parent <paramref name="path"/> of a new image in <paramref name="childDir"/>: a committed image. The path is
    /// recorded as given: absolute, or relative to the child's directory.
    /// </summary>
    public static ParentImage Identify(string path, string childDir)
    {
        var child = Path.GetFullPath(childDir);
        var full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(child, path));
        if (Trim(full) == Trim(child)) throw new ImageException(full, null, "an image cannot be its own parent");
        var (manifest, sha) = Load(full, path, null);
        return new ParentImage(full, manifest, new ImageParent(path, manifest.ImageId, sha));
    }

    /// <summary>
    /// The parent that the image in <paramref name="childDir"/> recorded, refused when its directory or manifest is missing,
    /// when its manifest is not the one recorded, or when it is not committed.
    /// </summary>
    public static ParentImage Open(string childDir, ImageParent recorded)
    {
        var full = recorded.Resolve(childDir);
        var (manifest, _) = Load(full, recorded.Path, recorded);
        return new ParentImage(full, manifest, recorded);
    }

    /// <summary>
    /// True when the parent's file <paramref name="file"/> has a segment exactly [fileOffset, +length) hashing to
    /// <paramref name="xxh64"/>, held as the same LZ4 block (<paramref name="lz4"/> bytes) or, with 0, unpacked.
    /// </summary>
    public bool Holds(string file, long fileOffset, long length, ulong xxh64, long lz4) =>
        _segments.TryGetValue(file, out var segments) && segments.TryGetValue(fileOffset, out var s)
        && s.Length == length && s.Xxh64 == xxh64 && s.Lz4 == lz4 && !s.Zero;

    /// <summary>
    /// Every segment of <paramref name="child"/> marked in_parent must be a segment of this parent, equal to it: else the
    /// chunk the child references is not there. Throws naming the child's file and the offset.
    /// </summary>
    public void CheckReferences(ImageManifest child)
    {
        foreach (var f in child.Files)
            foreach (var s in f.Segments.Where(s => s.InParent))
                if (!Holds(f.Name, s.Offset, s.Length, s.Xxh64, s.Lz4))
                    throw new ImageException(Path.Combine(Directory, f.Name), s.Offset,
                        $"the chunk [{s.Offset}, {s.End}) an incremental image references is not in its parent (no equal segment there)");
    }

    /// <summary>An error in a file of the image in <paramref name="dir"/>, named by its full path.</summary>
    public static ImageException Within(string dir, ImageException e) =>
        Path.IsPathRooted(e.File) ? e : new ImageException(Path.Combine(dir, e.File), e.Offset, e.Reason, e);

    private static (ImageManifest Manifest, string Sha256) Load(string full, string given, ImageParent? recorded)
    {
        var path = Path.Combine(full, ImageManifest.FileName);
        if (!System.IO.Directory.Exists(full))
            throw new ImageException(full, null, recorded is null ? "no such parent image directory" : $"parent image missing (recorded as {recorded.Path})");
        if (!File.Exists(path)) throw new ImageException(path, null, $"missing: {given} is not an image");
        var bytes = File.ReadAllBytes(path);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (recorded is not null && sha != recorded.ManifestSha256)
            throw new ImageException(path, null,
                $"not the parent this image was made from (its SHA-256 is {sha}, the image recorded {recorded.ManifestSha256}): the parent was changed or replaced");
        ImageManifest manifest;
        try
        {
            manifest = ManifestCodec.Decode(bytes);
            ImageReader.RequireCommitted(manifest);
        }
        catch (ImageException e)
        {
            throw Within(full, e);
        }
        if (recorded is not null && manifest.ImageId != recorded.ImageId)
            throw new ImageException(path, null, $"image {manifest.ImageId}, the image recorded parent {recorded.ImageId}");
        return (manifest, sha);
    }

    private static string Trim(string path) => path.TrimEnd(Path.DirectorySeparatorChar);
}
