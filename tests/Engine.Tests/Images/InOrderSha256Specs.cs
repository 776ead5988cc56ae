using System.Security.Cryptography;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>A file's SHA-256 taken from its pieces as they are written must be the SHA-256 of what the file holds, or nothing.</summary>
public sealed class InOrderSha256Specs
{
    [Fact]
    public void Every_byte_once_in_a_shuffled_order_gives_the_digest_of_the_bytes()
    {
        var random = new Random(TestSeed.Fresh());
        var file = new byte[5 << 20];
        random.NextBytes(file);
        var pieces = Cut(file.Length, random);
        random.Shuffle(pieces);
        using var sha = new InOrderSha256();
        foreach (var (offset, length) in pieces) sha.Add(offset, file.AsSpan((int)offset, length));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(file)), sha.Finish(file.Length));
    }

    [Fact]
    public void Zeros_in_order_stand_for_a_hole()
    {
        var file = new byte[3 << 20];
        new Random(TestSeed.Fresh()).NextBytes(file.AsSpan(0, 1 << 20));
        using var sha = new InOrderSha256();
        sha.Add(0, file.AsSpan(0, 1 << 20));
        sha.AddZeros(1 << 20, 2 << 20);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(file)), sha.Finish(file.Length));

        // Zeros ahead of what has arrived are not held: the file is read back instead.
        using var ahead = new InOrderSha256();
        ahead.AddZeros(1 << 20, 2 << 20);
        ahead.Add(0, file.AsSpan(0, 1 << 20));
        Assert.Null(ahead.Finish(file.Length));
    }

    [Fact]
    public void A_place_written_twice_too_much_held_out_of_order_or_a_gap_gives_no_digest()
    {
        var bytes = new byte[1 << 20];
        new Random(TestSeed.Fresh()).NextBytes(bytes);

        using var twice = new InOrderSha256();
        twice.Add(0, bytes);
        twice.Add(0, bytes);
        Assert.Null(twice.Finish(bytes.Length));

        using var twiceAhead = new InOrderSha256();
        twiceAhead.Add(bytes.Length, bytes);
        twiceAhead.Add(bytes.Length, bytes);
        twiceAhead.Add(0, bytes);
        Assert.Null(twiceAhead.Finish(2L * bytes.Length));

        using var far = new InOrderSha256();
        var end = InOrderSha256.MaxAhead + 2L * bytes.Length;
        for (long at = bytes.Length; at < end; at += bytes.Length) far.Add(at, bytes);
        far.Add(0, bytes);
        Assert.Null(far.Finish(end));

        using var gap = new InOrderSha256();
        gap.Add(0, bytes);
        gap.Add(2L * bytes.Length, bytes);
        Assert.Null(gap.Finish(3L * bytes.Length));

        using var shorter = new InOrderSha256();
        shorter.Add(0, bytes);
        Assert.Null(shorter.Finish(2L * bytes.Length));
    }

    /// <summary>The file cut into pieces of 1 to 256 KiB, in order.</summary>
    private static (long Offset, int Length)[] Cut(int length, Random random)
    {
        var pieces = new List<(long, int)>();
        for (var at = 0; at < length;)
        {
            var n = Math.Min(length - at, random.Next(1, 257) * 1024);
            pieces.Add((at, n));
            at += n;
        }
        return [.. pieces];
    }
}
