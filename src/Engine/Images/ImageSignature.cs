using System.Text;
using System.Text.Json;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// A manifest's signature: the digest of every file (<see cref="FileDigest"/>), and an HMAC-SHA256 (node key) of each part of the manifest, so
/// that a forgery is refused naming what changed: a file's contents, the file list, the topology, the links, the
/// source, the image's identity or its extras. The xxHash64 checksums catch damage; only this catches a forger who
/// rewrites a file and seals the manifest again.
/// </summary>
public sealed record ImageSignature(string Algorithm, string KeyId, IReadOnlyDictionary<string, string> Files, IReadOnlyDictionary<string, string> Macs)
{
    public const string HmacSha256 = "hmac-sha256";

    /// <summary>The parts of a manifest each MAC covers, in the order a check reports them.</summary>
    private static readonly string[] Parts = ["identity", "source", "topology", "files", "links", "extra"];

    public static ImageSignature Sign(ImageManifest manifest, IReadOnlyDictionary<string, string> fileHashes, ImageKey key) =>
        new(HmacSha256, key.Id, fileHashes, Parts.ToDictionary(p => p, p => Convert.ToHexStringLower(key.Mac(Canonical(manifest, fileHashes, p)))));

    /// <summary>
    /// Checks <paramref name="manifest"/>'s signature with <paramref name="key"/> and the digest of each file as read
    /// (<paramref name="actual"/>); throws <see cref="ImageException"/> naming the first thing that changed.
    /// </summary>
    public static void Check(ImageManifest manifest, IReadOnlyDictionary<string, string> actual, ImageKey key)
    {
        const string file = ImageManifest.FileName;
        var s = manifest.Signature ?? throw new ImageException(file, null, "not signed, and this engine accepts only signed images");
        if (s.Algorithm != HmacSha256) throw new ImageException(file, null, $"signed with {ManifestRules.Printable(s.Algorithm ?? "")}, this node checks {HmacSha256}");
        if (s.KeyId != key.Id) throw new ImageException(file, null, $"signed with key {ManifestRules.Printable(s.KeyId ?? "")}, this engine checks with key {key.Id}");
        if (s.Files is null || s.Macs is null) throw new ImageException(file, null, "signature without its files or MACs");
        // Files first, against the signed hashes: a forger who rewrote a file is named by that file.
        foreach (var f in manifest.Files)
        {
            if (!s.Files.TryGetValue(f.Name, out var signedHash)) throw new ImageException(f.Name, null, "not among the files the image was signed with");
            if (!actual.TryGetValue(f.Name, out var sha) || sha != signedHash)
                throw new ImageException(f.Name, null, $"contents changed after the image was signed (digest {sha ?? "unread"}, signed {signedHash})");
        }
        var removed = s.Files.Keys.FirstOrDefault(n => manifest.FindFile(n) is null);
        if (removed is not null) throw new ImageException(ManifestRules.Printable(removed), null, "signed with the image but no longer listed");
        foreach (var part in Parts)
        {
            var expected = Convert.ToHexStringLower(key.Mac(Canonical(manifest, s.Files, part)));
            if (!s.Macs.TryGetValue(part, out var mac) || mac is null || !CryptographicEquals(mac, expected))
                throw new ImageException(file, null, $"{part} changed after the image was signed (signature mismatch)");
        }
    }

    /// <summary>The bytes one MAC covers: the part's name, then its members as the manifest's own JSON writes them.</summary>
    private static byte[] Canonical(ImageManifest m, IReadOnlyDictionary<string, string> hashes, string part)
    {
        object value = part switch
        {
            // The parent is part of the identity; a whole image has none, and its identity reads as before there was one.
            "identity" => new SignedIdentity(m.FormatVersion, m.ToolVersion, m.ImageId, m.Created, m.Finished, m.State, m.Parent),
            "source" => m.Source,
            "topology" => m.Topology,
            "files" => new SignedFiles(m.Files, hashes.OrderBy(h => h.Key, StringComparer.Ordinal).ToList()),
            "links" => m.Links,
            _ => m.Extra.OrderBy(e => e.Key, StringComparer.Ordinal).ToList(),
        };
        return [.. Encoding.UTF8.GetBytes(part + "\n"), .. JsonSerializer.SerializeToUtf8Bytes(value, ManifestCodec.Json)];
    }

    /// <summary>The identity part's members, named and ordered as its MAC has always covered them.</summary>
    internal sealed record SignedIdentity(int FormatVersion, string ToolVersion, string ImageId, DateTimeOffset Created, DateTimeOffset? Finished,
        ImageState State, ImageParent? Parent);

    /// <summary>The files part: the manifest's file list, then every file's digest by name.</summary>
    internal sealed record SignedFiles(IReadOnlyList<ManifestFile> Files, List<KeyValuePair<string, string>> Hashes);

    private static bool CryptographicEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
