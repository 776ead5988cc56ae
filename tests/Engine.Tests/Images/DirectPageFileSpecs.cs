using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// Page files written and read with O_DIRECT, on the real filesystem of the temp directory: the bytes on disk are the
/// bytes a buffered write leaves, whatever the order, size or zeros of the pieces, and damage is still found. A restore's
/// reads through the page cache leave no copy of the file there.
/// </summary>
public sealed class DirectPageFileSpecs
{
    private const int Block = 4096;

    /// <summary>
    /// A payload of a few MiB whose end is not block-aligned, cut into pieces of one random chunk size, some all zeros but
    /// never all of them: a file of zeros only is never written (its pieces are holes) and so never opened for O_DIRECT.
    /// </summary>
    private static (byte[] Payload, List<(long Offset, int Length)> Pieces) Contents(Random random)
    {
        var payload = new byte[(2 << 20) + random.Next(0, 3 << 20) + random.Next(1, Block)];
        random.NextBytes(payload);
        var chunk = random.Next(1, 300) * Block + (random.Next(2) == 0 ? 0 : random.Next(1, Block));
        var pieces = new List<(long Offset, int Length)>();
        var zeros = new List<bool>();
        for (long at = 0; at < payload.Length; at += chunk)
        {
            pieces.Add((at, (int)Math.Min(chunk, payload.Length - at)));
            zeros.Add(random.Next(4) == 0);
        }
        if (zeros.TrueForAll(z => z)) zeros[random.Next(zeros.Count)] = false;
        for (var i = 0; i < pieces.Count; i++)
            if (zeros[i]) Array.Clear(payload, (int)pieces[i].Offset, pieces[i].Length);
        return (payload, pieces);
    }

    /// <summary>The calling spec's fresh seed (named by every failure), its random source, and the contents it draws.</summary>
    private static (int Seed, Random Random, byte[] Payload, List<(long Offset, int Length)> Pieces) Fresh(
        [System.Runtime.CompilerServices.CallerMemberName] string spec = "")
    {
        var seed = TestSeed.Fresh(test: spec);
        var random = new Random(seed);
        var (payload, pieces) = Contents(random);
        return (seed, random, payload, pieces);
    }

    private static string Write(string dir, string name, byte[] payload, IReadOnlyList<(long Offset, int Length)> pieces, bool directIo, Random random,
        int? again = null, int? torn = null)
    {
        using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
        writer.DirectIo = directIo;
        var file = writer.OpenPages(name, payload.Length);
        var order = pieces.Select((p, i) => (p.Offset, p.Length, Index: i)).OrderBy(_ => random.Next()).ToList();
        // Half the pieces come from buffers of a chunk pool, as the engine writes them: their whole blocks are aligned
        // in memory whenever the pieces start a whole number of blocks apart, and go to the disk without staging.
        using var pool = new ChunkPool((int)((pieces.Max(p => p.Length) + Block - 1) / Block * Block), 4);
        Parallel.ForEach(order, new ParallelOptions { MaxDegreeOfParallelism = 4 }, p =>
        {
            var bytes = payload.AsMemory((int)p.Offset, p.Length);
            using var lease = p.Index % 2 == 0 ? pool.RentAsync().AsTask().Result : null;
            if (lease is not null) bytes = Copy(bytes, lease.Buffer);
            // A torn write (half the piece landed, then the write failed) is followed by the whole piece again.
            if (p.Index == torn) file.Write(p.Offset, bytes.Span[..(p.Length / 2)]);
            file.Write(p.Offset, bytes.Span);
        });
        // A piece written again once its neighbours are on disk (a retried chunk): its shared blocks are read back and rewritten.
        if (again is { } i) file.Write(pieces[i].Offset, payload.AsSpan((int)pieces[i].Offset, pieces[i].Length));
        Assert.Equal(directIo, file.Direct);
        writer.Commit();
        return Path.Combine(dir, name);
    }

    private static Memory<byte> Copy(Memory<byte> bytes, Memory<byte> into)
    {
        bytes.CopyTo(into);
        return into[..bytes.Length];
    }

    [Fact]
    public void Pieces_written_past_the_page_cache_in_any_order_torn_or_twice_leave_the_bytes_of_a_buffered_write_and_read_back_verified()
    {
        var (seed, random, payload, pieces) = Fresh();
        var name = ImageFileName.KfdPages(1, 0x1234);
        var root = Path.Combine(Path.GetTempPath(), $"gpuckpt-direct-{Guid.NewGuid():N}");
        try
        {
            var direct = Write(Path.Combine(root, "direct"), name, payload, pieces, directIo: true, random, again: random.Next(pieces.Count), torn: random.Next(pieces.Count));
            var buffered = Write(Path.Combine(root, "buffered"), name, payload, pieces, directIo: false, random);

            var bytes = File.ReadAllBytes(direct);
            Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(buffered)), $"seed {seed}: the direct file differs from the buffered one");
            Assert.True(bytes.AsSpan(8).SequenceEqual(payload), $"seed {seed}: the direct file does not hold the payload");

            using var pages = ImageReader.Open(Path.GetDirectoryName(direct)!).OpenPages(name);
            Assert.True(pages.Direct, "a page file of MiBs on this filesystem is read with O_DIRECT");
            var back = new byte[payload.Length];
            foreach (var (offset, length) in pieces.OrderBy(_ => random.Next()))
                pages.ReadVerified(offset, back.AsSpan((int)offset, length));
            Assert.True(back.AsSpan().SequenceEqual(payload), $"seed {seed}: the direct read differs from what was written");

            // Streamed (a restore into a BO that is not memory): the pieces of each range come in order, without gaps.
            var streamed = new byte[payload.Length];
            foreach (var (offset, length) in pieces.OrderBy(_ => random.Next()))
            {
                var next = 0;
                pages.ReadVerified(offset, new byte[length], (at, bytes) =>
                {
                    Assert.Equal(next, at);
                    Assert.False(bytes.IsEmpty);
                    bytes.CopyTo(streamed.AsSpan((int)offset + at));
                    next = at + bytes.Length;
                });
                Assert.Equal(length, next);
            }
            Assert.True(streamed.AsSpan().SequenceEqual(payload), $"seed {seed}: the streamed read differs from what was written");
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void A_read_through_the_page_cache_with_drop_behind_is_verified_and_leaves_no_copy_of_the_file_in_the_cache()
    {
        var (seed, random, payload, pieces) = Fresh();
        var name = ImageFileName.KfdPages(1, 0x1234);
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-direct-{Guid.NewGuid():N}");
        try
        {
            // Written, then read whole through the page cache: all of it is there, clean.
            var path = Write(dir, name, payload, pieces, directIo: false, random);
            Assert.Equal(payload.Length + 8, File.ReadAllBytes(path).Length);
            Assert.True(CachedBytes(path) >= payload.Length / 2, $"seed {seed}: the file just read is not in the page cache; this filesystem cannot show drop-behind");

            var reader = ImageReader.Open(dir);
            reader.DirectIo = false;
            reader.DropBehind = true;
            using (var pages = reader.OpenPages(name))
            {
                Assert.False(pages.Direct);
                // In any order: the kernel's readahead for one range may bring back pages of another already dropped,
                // and a large folio across two ranges is covered whole by neither; the file goes whole when it is closed.
                var back = new byte[payload.Length];
                foreach (var (offset, length) in pieces.OrderBy(_ => random.Next()))
                    pages.ReadVerified(offset, back.AsSpan((int)offset, length));
                Assert.True(back.AsSpan().SequenceEqual(payload), $"seed {seed}: the read differs from what was written");
            }

            var cached = CachedBytes(path);
            Assert.True(cached == 0, $"seed {seed}: {cached} bytes of the file are still in the page cache after the read");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The file's bytes in the page cache, as util-linux's fincore counts them.</summary>
    private static long CachedBytes(string path)
    {
        using var fincore = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("fincore", ["--bytes", "--noheadings", "--raw", "--output", "RES", path])
        {
            RedirectStandardOutput = true,
        })!;
        var output = fincore.StandardOutput.ReadToEnd();
        fincore.WaitForExit();
        Assert.True(fincore.ExitCode == 0, $"fincore {path} exited {fincore.ExitCode}");
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void A_byte_changed_on_disk_fails_the_direct_read_streamed_or_not_naming_the_file_and_the_segment_offset()
    {
        var (seed, random, payload, pieces) = Fresh();
        var name = ImageFileName.KfdPages(1, 0x1234);
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-direct-{Guid.NewGuid():N}");
        try
        {
            var path = Write(dir, name, payload, pieces, directIo: true, random);
            var large = pieces.Where(p => p.Length >= PageFileReader.DirectMinSegment).ToList();
            var (offset, length) = large.Count > 0 ? large[random.Next(large.Count)] : pieces[0];
            var at = 8 + offset + random.Next(length);
            using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
            {
                var one = new byte[1];
                RandomAccess.Read(f, one, at);
                one[0] ^= 0x20;
                RandomAccess.Write(f, one, at); // through the page cache: the direct read must still see it
            }

            using var pages = ImageReader.Open(dir).OpenPages(name);
            var e = Assert.Throws<ImageException>(() => pages.ReadVerified(offset, new byte[length]));
            Assert.Equal(name, e.File);
            Assert.Equal(8 + offset, e.Offset);
            Assert.Contains("checksum mismatch", e.Message);
            var streamed = Assert.Throws<ImageException>(() => pages.ReadVerified(offset, new byte[length], (_, _) => { }));
            Assert.Equal((name, 8 + offset), (streamed.File, streamed.Offset));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_direct_file_whose_writer_died_keeps_every_piece_it_wrote_whole_for_adoption()
    {
        var (seed, random, payload, pieces) = Fresh();
        // Nonzero at every piece's ends, so that a block a piece shares with a neighbour shows in its checksum.
        foreach (var (offset, length) in pieces)
        {
            payload[offset] |= 1;
            payload[offset + length - 1] |= 1;
        }
        var name = ImageFileName.KfdPages(1, 0x1234);
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-direct-{Guid.NewGuid():N}");
        try
        {
            var skipped = random.Next(pieces.Count);
            using (var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), [])))
            {
                var file = writer.OpenPages(name, payload.Length);
                Parallel.ForEach(Enumerable.Range(0, pieces.Count).Where(i => i != skipped).OrderBy(_ => random.Next()).ToList(),
                    new ParallelOptions { MaxDegreeOfParallelism = 4 },
                    i => file.Write(pieces[i].Offset, payload.AsSpan((int)pieces[i].Offset, pieces[i].Length)));
                Assert.True(file.Direct);
            } // the writer dies before the skipped piece, even the blocks it shares with its neighbours, was written

            using var reopened = ImageWriter.Reopen(dir);
            var again = reopened.OpenPages(name, payload.Length);
            var redone = new List<int>();
            for (var i = 0; i < pieces.Count; i++)
            {
                var piece = payload.AsSpan((int)pieces[i].Offset, pieces[i].Length);
                // The engine's journal holds each piece's checksum as Write returned it.
                if (again.Adopt(pieces[i].Offset, piece.Length, SegmentHash.Of(piece))) continue;
                redone.Add(i);
                again.Write(pieces[i].Offset, piece);
            }
            Assert.Equal([skipped], redone);
            reopened.Commit();

            Assert.True(File.ReadAllBytes(Path.Combine(dir, name)).AsSpan(8).SequenceEqual(payload), $"seed {seed}: the finished file differs");
            using var pages = ImageReader.Open(dir).OpenPages(name);
            var back = new byte[payload.Length];
            pages.ReadVerified(0, back);
            Assert.True(back.AsSpan().SequenceEqual(payload), $"seed {seed}: the finished file does not read back verified");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
