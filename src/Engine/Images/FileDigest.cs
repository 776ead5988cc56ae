using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// The digest a signature holds for one file. From format 2 on, it is the SHA-256 of the file's leaves: each segment,
/// in offset order, is cut into leaves of <see cref="LeafSize"/> bytes from its start (the last one shorter), and each
/// leaf contributes its file offset and length (8 bytes each, little-endian) and the hash of its bytes as the file
/// holds them (zeros where it holds a hole): SHA-256 in format 2, BLAKE3 from format 3 on (<see cref="LeafHash"/>). A piece is hashed on its own, by the thread that writes or reads it, so a
/// file is digested on every core at once, and a piece written again changes its own leaves only. A copy whose pieces
/// were cut into frames of a multiple of <see cref="LeafSize"/> from each piece's start (a migration's) has the same
/// leaves, and so the same digest. Format 1 images hold the SHA-256 of the whole file, read in order; they are still
/// read and checked that way.
/// </summary>
public static class FileDigest
{
    /// <summary>The format whose digests are whole-file SHA-256s.</summary>
    public const int WholeFileFormat = 1;

    /// <summary>Bytes per leaf: a migration's frames must be a multiple of it.</summary>
    public const int LeafSize = 64 << 10;

    /// <summary>Bytes of one leaf's hash and of a file's digest.</summary>
    public const int HashSize = SHA256.HashSizeInBytes;

    private static readonly ConcurrentDictionary<(LeafHash, long), byte[]> ZeroLeaves = new();

    /// <summary>Leaves in a segment of <paramref name="length"/> bytes.</summary>
    public static int LeafCount(long length) => (int)((length + LeafSize - 1) / LeafSize);

    /// <summary>The leaves (their hashes by <paramref name="hash"/>, back to back) of <paramref name="data"/>, a whole segment.</summary>
    public static byte[] Leaves(ReadOnlySpan<byte> data, LeafHash hash)
    {
        var leaves = new byte[LeafCount(data.Length) * HashSize];
        for (var i = 0; i < leaves.Length / HashSize; i++)
        {
            var leaf = data.Slice(i * LeafSize, Math.Min(LeafSize, data.Length - i * LeafSize));
            hash.Hash(leaf, leaves.AsSpan(i * HashSize, HashSize));
        }
        return leaves;
    }

    /// <summary>The leaves of <paramref name="length"/> zero bytes (a hole, an all-zero piece); pieces repeat few sizes, so each is made once.</summary>
    public static byte[] Zeros(long length, LeafHash hash) => ZeroLeaves.GetOrAdd((hash, length), static key =>
    {
        var (hash, n) = key;
        var count = LeafCount(n);
        var leaves = new byte[count * HashSize];
        Span<byte> whole = stackalloc byte[HashSize];
        hash.Hash(new byte[Math.Min(LeafSize, n)], whole);
        for (var i = 0; i < count; i++) whole.CopyTo(leaves.AsSpan(i * HashSize));
        var last = n - (long)(count - 1) * LeafSize;
        if (last < LeafSize) hash.Hash(new byte[last], leaves.AsSpan((count - 1) * HashSize, HashSize));
        return leaves;
    });

    /// <summary>
    /// The digest of a file covered by <paramref name="segments"/> (sorted, gap-free), given each segment's leaves
    /// (<paramref name="leavesOf"/>); lower-case hex.
    /// </summary>
    public static string Combine(IReadOnlyList<Segment> segments, Func<int, byte[]> leavesOf)
    {
        using var root = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> entry = stackalloc byte[16 + HashSize];
        for (var i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            var leaves = leavesOf(i);
            if (leaves.Length != LeafCount(s.Length) * HashSize) throw new InvalidOperationException($"segment at {s.Offset}: {leaves.Length} bytes of leaves for {s.Length} bytes");
            for (var k = 0; k < leaves.Length / HashSize; k++)
            {
                var at = s.Offset + (long)k * LeafSize;
                BinaryPrimitives.WriteInt64LittleEndian(entry, at);
                BinaryPrimitives.WriteInt64LittleEndian(entry[8..], Math.Min(LeafSize, s.End - at));
                leaves.AsSpan(k * HashSize, HashSize).CopyTo(entry[16..]);
                root.AppendData(entry);
            }
        }
        return Convert.ToHexStringLower(root.GetHashAndReset());
    }

    /// <summary>
    /// The digest of file <paramref name="entry"/> of the image in <paramref name="dir"/>, as a manifest of
    /// <paramref name="formatVersion"/> defines it, read from disk (segments on every core).
    /// </summary>
    public static string Read(string dir, ManifestFile entry, int formatVersion)
    {
        if (formatVersion == WholeFileFormat) return ImageFiles.Sha256(dir, entry.Name);
        var cover = SegmentCover.Build(entry.Name, entry.Size, entry.Segments);
        var digests = new byte[cover.Segments.Count][];
        var hash = LeafHash.Of(formatVersion);
        using var handle = ImageFiles.OpenRead(dir, entry.Name);
        Parallel.For(0, digests.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => digests[i] = OfSegment(handle, entry.Name, cover.Segments[i], hash));
        return Combine(cover.Segments, i => digests[i]);
    }

    /// <summary>Every file's digest as <paramref name="manifest"/>'s format defines it, read from disk; file name to digest.</summary>
    public static Dictionary<string, string> ReadAll(string dir, ImageManifest manifest) =>
        manifest.Files.ToDictionary(f => f.Name, f => Read(dir, f, manifest.FormatVersion), StringComparer.Ordinal);

    /// <summary>
    /// Every file's digest in the current format: the signed ones where the image is signed in it, else read from disk
    /// (an unsigned image, or one an older build wrote). What a copy of the image, written by this build, will hash to.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Current(string dir, ImageManifest manifest) =>
        manifest is { Signature: { } signed, FormatVersion: ImageManifest.CurrentFormatVersion }
            ? signed.Files
            : ReadAll(dir, manifest with { FormatVersion = ImageManifest.CurrentFormatVersion });

    /// <summary>The leaves of one segment as the file holds it (a hole reads as zeros), checking nothing.</summary>
    public static byte[] OfSegment(SafeFileHandle handle, string file, Segment segment, LeafHash hash)
    {
        if (FileSync.IsHole(handle, segment.Offset, segment.Length)) return Zeros(segment.Length, hash);
        using var leaves = new LeafHasher(segment.Length, hash);
        SegmentIo.ReadThrough(handle, file, segment, leaves, static (bytes, to) => to.Append(bytes));
        return leaves.Finish();
    }
}
