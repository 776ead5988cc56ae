using System.Text;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// A file's digest (FORMAT.md): SHA-256 over its 64 KiB leaves, each bound to its offset and length. The same bytes give
/// the same digest however the pieces that carried them were read or cut at leaf boundaries; any other cut, or the same
/// bytes at other places, give another.
/// </summary>
public sealed class FileDigestSpecs
{
    [Fact]
    public void The_hash_is_SHA_256_by_its_published_test_vectors()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Convert.ToHexStringLower(FileDigest.Hash([])));
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Convert.ToHexStringLower(FileDigest.Hash(Encoding.ASCII.GetBytes("abc"))));
    }

    [Fact]
    public void Leaves_taken_in_pieces_of_any_length_are_the_leaves_of_the_whole_segment()
    {
        var random = new Random(TestSeed.Fresh());
        for (var round = 0; round < 20; round++)
        {
            var data = new byte[random.Next(1, 5 * FileDigest.LeafSize)];
            random.NextBytes(data);
            using var hasher = new LeafHasher(data.Length);
            for (var at = 0; at < data.Length;)
            {
                var n = Math.Min(data.Length - at, random.Next(1, 3 * FileDigest.LeafSize));
                hasher.Append(data.AsSpan(at, n));
                at += n;
            }
            var leaves = FileDigest.Leaves(data);
            Assert.Equal(leaves, hasher.Finish());
            Assert.Equal(FileDigest.LeafCount(data.Length) * FileDigest.HashSize, leaves.Length);
            Assert.Equal(FileDigest.Hash(data.AsSpan((FileDigest.LeafCount(data.Length) - 1) * FileDigest.LeafSize)),
                leaves.AsSpan(leaves.Length - FileDigest.HashSize).ToArray());
            Assert.Equal(FileDigest.Leaves(new byte[data.Length]), FileDigest.Zeros(data.Length));
        }
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
        return FileDigest.Combine(segments, i => FileDigest.Leaves(pieces[i].Bytes));
    }
}
