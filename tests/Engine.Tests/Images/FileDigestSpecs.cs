using System.Text;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// A file's digest (FORMAT.md): SHA-256 over its 64 KiB leaves, each bound to its offset and length, each leaf hashed
/// by its format's hash (SHA-256 in format 2, BLAKE3 from format 3 on). The same bytes give the same digest however the
/// pieces that carried them were read or cut at leaf boundaries; any other cut, or the same bytes at other places, give
/// another.
/// </summary>
public sealed class FileDigestSpecs
{
    public static TheoryData<int> Formats => new() { 2, ImageManifest.CurrentFormatVersion };

    [Fact]
    public void Format_2_leaves_are_SHA_256_by_its_published_test_vectors()
    {
        Assert.Same(LeafHash.Sha256, LeafHash.Of(2));
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Hex(LeafHash.Sha256, []));
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Hex(LeafHash.Sha256, Encoding.ASCII.GetBytes("abc")));
    }

    /// <summary>The BLAKE3 team's published vectors: input bytes 0, 1, ..., 250, 0, 1, ... of the given length.</summary>
    [Theory]
    [InlineData(0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")]
    [InlineData(1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444")]
    [InlineData(31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47")]
    [InlineData(102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085")]
    public void Leaves_of_the_current_format_are_BLAKE3_by_its_published_test_vectors(int length, string hash)
    {
        Assert.Same(LeafHash.Blake3, LeafHash.Current);
        var input = Enumerable.Range(0, length).Select(i => (byte)(i % 251)).ToArray();
        Assert.Equal(hash, Hex(LeafHash.Blake3, input));
        // Fed in pieces, as a read in stages feeds a leaf.
        using var pieces = LeafHash.Blake3.Incremental();
        for (var at = 0; at < length; at += 1000) pieces.Append(input.AsSpan(at, Math.Min(1000, length - at)));
        var cut = new byte[FileDigest.HashSize];
        pieces.Cut(cut);
        Assert.Equal(hash, Convert.ToHexStringLower(cut));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Leaves_taken_in_pieces_of_any_length_are_the_leaves_of_the_whole_segment(int format)
    {
        var hash = LeafHash.Of(format);
        var random = new Random(TestSeed.Fresh());
        for (var round = 0; round < 20; round++)
        {
            var data = new byte[random.Next(1, 5 * FileDigest.LeafSize)];
            random.NextBytes(data);
            using var hasher = new LeafHasher(data.Length, hash);
            for (var at = 0; at < data.Length;)
            {
                var n = Math.Min(data.Length - at, random.Next(1, 3 * FileDigest.LeafSize));
                hasher.Append(data.AsSpan(at, n));
                at += n;
            }
            var leaves = FileDigest.Leaves(data, hash);
            Assert.Equal(leaves, hasher.Finish());
            Assert.Equal(FileDigest.LeafCount(data.Length) * FileDigest.HashSize, leaves.Length);
            var last = new byte[FileDigest.HashSize];
            hash.Hash(data.AsSpan((FileDigest.LeafCount(data.Length) - 1) * FileDigest.LeafSize), last);
            Assert.Equal(last, leaves.AsSpan(leaves.Length - FileDigest.HashSize).ToArray());
            Assert.Equal(FileDigest.Leaves(new byte[data.Length], hash), FileDigest.Zeros(data.Length, hash));
        }
    }

    [Fact]
    public void The_two_formats_give_the_same_bytes_different_leaves()
    {
        var data = new byte[FileDigest.LeafSize + 17];
        new Random(TestSeed.Fresh()).NextBytes(data);
        Assert.NotEqual(FileDigest.Leaves(data, LeafHash.Sha256), FileDigest.Leaves(data, LeafHash.Blake3));
        Assert.NotEqual(FileDigest.Zeros(data.Length, LeafHash.Sha256), FileDigest.Zeros(data.Length, LeafHash.Blake3));
    }

    [Fact]
    public void A_segment_cut_at_leaf_boundaries_digests_as_the_whole_and_any_other_cut_or_place_does_not()
    {
        var random = new Random(TestSeed.Fresh());
        var data = new byte[3 * FileDigest.LeafSize + random.Next(1, FileDigest.LeafSize)];
        random.NextBytes(data);
        const long at = 8;
        var whole = Digest((at, data));

        // Cut into frames of two leaves from the segment's start, as a migration's sender cuts a piece.
        var frames = Digest((at, data[..(2 * FileDigest.LeafSize)]), (at + 2 * FileDigest.LeafSize, data[(2 * FileDigest.LeafSize)..]));
        Assert.Equal(whole, frames);

        // A cut off the leaf grid leaves other leaves.
        var odd = random.Next(1, FileDigest.LeafSize);
        Assert.NotEqual(whole, Digest((at, data[..odd]), (at + odd, data[odd..])));

        // The same bytes at another offset: the leaves carry their places.
        Assert.NotEqual(whole, Digest((at + 4096, data)));

        // One bit changed anywhere.
        var changed = (byte[])data.Clone();
        changed[random.Next(changed.Length)] ^= 1;
        Assert.NotEqual(whole, Digest((at, changed)));
    }

    private static string Digest(params (long Offset, byte[] Bytes)[] pieces)
    {
        var segments = pieces.Select(p => new Segment(p.Offset, p.Bytes.Length, 0)).ToList();
        return FileDigest.Combine(segments, i => FileDigest.Leaves(pieces[i].Bytes, LeafHash.Current));
    }

    private static string Hex(LeafHash hash, byte[] data)
    {
        var bytes = new byte[FileDigest.HashSize];
        hash.Hash(data, bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
