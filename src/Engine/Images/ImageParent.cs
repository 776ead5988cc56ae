namespace Gpuckpt.Engine.Images;

/// <summary>
/// The image an incremental image was made from, as its manifest records it: where it is (an absolute path, or one
/// relative to the incremental image's own directory, so that a chain moved together still resolves), its image id,
/// and the SHA-256 of its manifest.json, which covers every checksum and the signature of the parent: a parent that
/// changed in any way, or another image put in its place, no longer has it.
/// </summary>
public sealed record ImageParent(string Path, string ImageId, string ManifestSha256)
{
    /// <summary>The parent's directory, for an image in <paramref name="childDir"/>.</summary>
    public string Resolve(string childDir) =>
        System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(Path) ? Path : System.IO.Path.Combine(childDir, Path));
}
