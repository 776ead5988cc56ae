using Gpuckpt.Engine.Copy;
using Xunit;

namespace Gpuckpt.Engine.Tests.Copy;

public class CopyPlannerSpecs
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Every_byte_of_every_BO_lands_exactly_once_at_its_file_offset(int seed)
    {
        var random = new Random(seed);
        var chunkSize = 4096 * random.Next(1, 16);
        var sizes = Enumerable.Range(0, random.Next(1, 200))
            .Select(i => (i, (ulong)(random.Next(4) == 0 ? random.Next(1, 40 * chunkSize) : random.Next(0, 3 * 4096))))
            .ToList();
        var layout = CopyPlanner.Layout(sizes, start: 8);
        var chunks = CopyPlanner.Plan(layout, chunkSize);

        var total = layout.Sum(e => (long)e.Size);
        Assert.True(chunks.Sum(c => (long)c.Length) == total, $"seed {seed}: chunks cover {chunks.Sum(c => (long)c.Length)} of {total} bytes");
        var covered = new Dictionary<int, ulong>();
        foreach (var chunk in chunks)
        {
            Assert.InRange(chunk.Length, 1, chunkSize);
            var at = 0;
            foreach (var piece in chunk.Pieces)
            {
                Assert.Equal(at, piece.ChunkOffset);
                var extent = layout[piece.BoIndex];
                Assert.Equal(extent.FileOffset + (long)piece.BoOffset, chunk.FileOffset + piece.ChunkOffset);
                Assert.Equal(covered.GetValueOrDefault(piece.BoIndex), piece.BoOffset);
                covered[piece.BoIndex] = piece.BoOffset + (ulong)piece.Length;
                at += piece.Length;
            }
            Assert.Equal(chunk.Length, at);
        }
        foreach (var extent in layout.Where(e => e.Size > 0))
            Assert.True(covered[extent.BoIndex] == extent.Size, $"seed {seed}: BO {extent.BoIndex} covered {covered[extent.BoIndex]} of {extent.Size}");
    }

    [Fact]
    public void Small_BOs_share_a_chunk_and_a_large_BO_is_split()
    {
        var layout = CopyPlanner.Layout([(0, 4096UL), (1, 4096UL), (2, 4096UL), (3, 10UL * 65536 + 4096), (4, 4096UL), (5, 60000UL), (6, 8192UL)]);
        var chunks = CopyPlanner.Plan(layout, 65536);

        Assert.Equal([0, 1, 2], chunks[0].Pieces.Select(p => p.BoIndex));
        Assert.All(chunks.Skip(1).Take(11), c => Assert.Equal(3, Assert.Single(c.Pieces).BoIndex));
        Assert.Equal(4096, chunks[11].Length);
        Assert.Equal([4, 5], chunks[12].Pieces.Select(p => p.BoIndex));
        Assert.Equal([6], chunks[13].Pieces.Select(p => p.BoIndex));
        Assert.Equal(14, chunks.Count);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public void Every_BO_lies_in_one_chunk_or_owns_all_of_its_chunks(int seed)
    {
        var random = new Random(seed);
        var chunkSize = 4096 * random.Next(1, 16);
        var sizes = Enumerable.Range(0, random.Next(1, 300))
            .Select(i => (i, (ulong)(random.Next(4) == 0 ? random.Next(1, 10 * chunkSize) : random.Next(1, 3 * 4096))))
            .ToList();
        var chunks = CopyPlanner.Plan(CopyPlanner.Layout(sizes), chunkSize);

        foreach (var group in chunks.SelectMany(c => c.Pieces.Select(p => (Chunk: c, p.BoIndex))).GroupBy(x => x.BoIndex))
        {
            var holders = group.Select(x => x.Chunk).Distinct().ToList();
            Assert.True(holders.Count == 1 || holders.All(c => c.Pieces.Count == 1),
                $"seed {seed}: BO {group.Key} spans {holders.Count} chunks shared with other BOs");
        }
    }

    [Fact]
    public void Offsets_past_4_GiB_stay_64_bit()
    {
        const ulong big = 5UL << 30;
        var layout = CopyPlanner.Layout([(0, big), (1, 4096UL)]);
        var chunks = CopyPlanner.Plan(layout, 1 << 26);

        var last = chunks[^1];
        Assert.Equal((long)big, last.FileOffset);
        Assert.Equal(1, Assert.Single(last.Pieces).BoIndex);
        Assert.Equal(big - (1UL << 26), chunks[^2].Pieces[0].BoOffset);
    }
}
