using System.Security.Cryptography.X509Certificates;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;
using Gpuckpt.Engine.Trust;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// What a committed image adds to the stream: every segment of every file (those already sent are skipped), its files
/// and links, and the source's seal over them when the node has a cluster identity to sign with.
/// </summary>
internal sealed record ImageListed(IReadOnlyList<TransferPiece> Pieces, IReadOnlyList<SealedFile> Files, IReadOnlyList<ImageLink> Links, SourceSeal? Seal)
    : Akka.Actor.INoSerializationVerificationNeeded
{
    public static ImageListed From(string dir, X509Certificate2? signer)
    {
        var manifest = ManifestCodec.Load(dir);
        if (manifest.State != ImageState.Committed) throw new ImageException(ImageManifest.FileName, null, "the source image is not committed");
        var pieces = new List<TransferPiece>();
        foreach (var file in manifest.Files)
        {
            if (ImageFileName.Parse(file.Name).Kind.IsPages())
                pieces.AddRange(file.Segments.Where(s => s.Offset >= LengthPrefix.Size)
                    .Select(s => new TransferPiece(file.Name, file.Size, s.Offset, s.Length, s.Xxh64)));
            else
                pieces.Add(new TransferPiece(file.Name, file.Size, 0, file.Size, file.Segments.Single().Xxh64));
        }
        SourceSeal? seal = null;
        if (signer is not null)
        {
            // A node's images carry their files' digests when it signs them; others are read here.
            var hashes = FileDigest.Current(dir, manifest);
            seal = SourceSeal.Sign(manifest.ImageId, hashes, manifest.Links, signer);
        }
        return new ImageListed(pieces, [.. manifest.Files.Select(f => new SealedFile(f.Name, f.Size))], manifest.Links, seal);
    }
}
