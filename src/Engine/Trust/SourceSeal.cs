using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Trust;

/// <summary>
/// A migration source's signature over the image it sends: the image's identity, the digest of every file
/// (<see cref="FileDigest"/>) and the links, signed (ECDSA, SHA-256) with the key of the source node's cluster certificate, which travels with it. The
/// target checks the certificate against the cluster's CA and the hashes against exactly the bytes it received, before
/// it restores: a stream changed anywhere between the source's disk and the target's is refused, naming the file.
/// </summary>
public sealed record SourceSeal(string ImageId, IReadOnlyDictionary<string, string> Files, IReadOnlyList<ImageLink> Links, string Certificate, string Signature)
{
    private const string Domain = "gpuckpt source seal v1";

    /// <summary>Signs <paramref name="files"/> (name → digest, hex) of image <paramref name="imageId"/> with <paramref name="signer"/>'s key.</summary>
    public static SourceSeal Sign(string imageId, IReadOnlyDictionary<string, string> files, IReadOnlyList<ImageLink> links, X509Certificate2 signer)
    {
        using var key = signer.GetECDsaPrivateKey() ?? throw new TrustException($"{signer.Subject}: the certificate has no ECDSA private key to sign with");
        var signature = key.SignData(Canonical(imageId, files, links), HashAlgorithmName.SHA256);
        return new SourceSeal(imageId, files, links, signer.ExportCertificatePem(), Convert.ToBase64String(signature));
    }

    /// <summary>The signer's name (its certificate's common name), or why it cannot be read.</summary>
    public string Signer
    {
        get
        {
            try
            {
                using var cert = X509Certificate2.CreateFromPem(Certificate);
                return cert.GetNameInfo(X509NameType.SimpleName, false);
            }
            catch (CryptographicException)
            {
                return "an unreadable certificate";
            }
        }
    }

    /// <summary>
    /// Null when the seal was made by a member of <paramref name="cluster"/> over exactly <paramref name="received"/>
    /// (name → digest of the bytes the target holds) and <paramref name="links"/>; else what is wrong, naming the
    /// file that differs.
    /// </summary>
    public string? Check(ClusterAuthority cluster, string imageId, IReadOnlyDictionary<string, string> received, IReadOnlyList<ImageLink> links)
    {
        X509Certificate2 cert;
        try
        {
            cert = X509Certificate2.CreateFromPem(Certificate);
        }
        catch (CryptographicException e)
        {
            return $"the source's certificate cannot be read: {e.Message}";
        }
        using (cert)
        {
            if (cluster.Check(cert) is { } refusal) return $"signed by a stranger: {refusal}";
            using var key = cert.GetECDsaPublicKey();
            byte[] signature;
            try
            {
                signature = Convert.FromBase64String(Signature);
            }
            catch (FormatException)
            {
                return "the source's signature is not base64";
            }
            if (key is null || !key.VerifyData(Canonical(ImageId, Files, Links), signature, HashAlgorithmName.SHA256))
                return $"the seal of {Signer} does not verify: its hashes, links or image were changed after it signed";
        }
        if (ImageId != imageId) return $"the seal is for image {ImageId}, the copy is of {imageId}";
        foreach (var (name, sha) in received.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (!Files.TryGetValue(name, out var signed)) return $"{name}: received but not among the files the source signed";
            if (!string.Equals(signed, sha, StringComparison.OrdinalIgnoreCase))
                return $"{name}: the bytes received differ from those the source signed (digest {sha}, signed {signed})";
        }
        var missing = Files.Keys.Order(StringComparer.Ordinal).FirstOrDefault(n => !received.ContainsKey(n));
        if (missing is not null) return $"{missing}: signed by the source but never received";
        if (!Links.SequenceEqual(links)) return "the image's links differ from those the source signed";
        return null;
    }

    /// <summary>
    /// Why a copy refused by <see cref="Check"/> holds the bytes the source sent all the same, or null: the seal is
    /// sound, and the files in <paramref name="dir"/> hash to its digests in an older image format (a source of an
    /// older build, whose leaves are another hash). Reads the copy once for each older format; ask only after a refusal.
    /// </summary>
    public string? OlderFormat(ClusterAuthority cluster, string dir, ImageManifest copy, IReadOnlyList<ImageLink> links)
    {
        if (Check(cluster, copy.ImageId, Files, links) is not null) return null; // not a question of digests
        for (var format = ImageManifest.CurrentFormatVersion - 1; format >= FileDigest.WholeFileFormat; format--)
        {
            if (Check(cluster, copy.ImageId, FileDigest.ReadAll(dir, copy with { FormatVersion = format }), links) is null)
                return $"the bytes received are the ones {Signer} signed, but it hashed them as image format {format} and this node " +
                       $"hashes as format {ImageManifest.CurrentFormatVersion}: the two nodes run different versions of gpuckpt, and a " +
                       "migration needs the same version on both";
        }
        return null;
    }

    /// <summary>The bytes signed: a domain line, the image id, each file's name and hash in name order, each link.</summary>
    private static byte[] Canonical(string imageId, IReadOnlyDictionary<string, string> files, IReadOnlyList<ImageLink> links)
    {
        var text = new StringBuilder().Append(Domain).Append('\n').Append(imageId).Append('\n');
        foreach (var (name, sha) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            text.Append("file ").Append(name).Append(' ').Append(sha.ToLowerInvariant()).Append('\n');
        foreach (var link in links) text.Append("link ").Append(link).Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
