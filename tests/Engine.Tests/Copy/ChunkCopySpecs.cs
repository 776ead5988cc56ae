using System.IO.Hashing;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Native;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Copy;

/// <summary>
/// One chunk's I/O against a real page file in a temp directory: what a checkpoint writes is the BO's bytes and its
/// checksum is their xxh64, what a restore reads back is those bytes, an injected fault fails the attempt the way the
/// retry policy tells apart, and a damaged segment fails the restore naming the file and the offset.
/// </summary>
public sealed class ChunkCopySpecs : IDisposable
{
    private const string Gpu = "GPU 0x10";
    private static readonly string Pages = ImageFileName.KfdPages(1, 0x1234);
    private static readonly string Label = BoNames.Kfd(1, 0x10, 0x7f0000200000, 8 << 20);
    private static readonly RetryPolicy Retry = new(3, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(4));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-chunkcopy-{Guid.NewGuid():N}");

    public ChunkCopySpecs() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A BO of a few MiB (not a whole number of chunks) cut into chunks of one BO each, of at least 64 KiB.</summary>
    private static (byte[] Bytes, List<CopyChunk> Chunks) Bo(Random random)
    {
        var bytes = new byte[(1 << 20) + random.Next(0, 3 << 20) + random.Next(1, 4096)];
        random.NextBytes(bytes);
        var size = random.Next(64 << 10, 1 << 20);
        var chunks = new List<CopyChunk>();
        for (long at = 0; at < bytes.Length; at += size)
        {
            var length = (int)Math.Min(size, bytes.Length - at);
            if (random.Next(5) == 0) Array.Clear(bytes, (int)at, length);
            chunks.Add(new CopyChunk(at, length, [new BoPiece(0, (ulong)at, length, 0)]));
        }
        return (bytes, chunks);
    }

    private IBoMapping Map(byte[] bytes, bool direct, string name)
    {
        if (!direct) return new ArrayMapping(bytes);
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return new RecordingMapping(MmapBoMapping.Map(path, 0, (ulong)bytes.Length, writable: true));
    }

    private static byte[] Contents(IBoMapping bo)
    {
        var bytes = new byte[bo.Size];
        bo.Read(0, bytes);
        return bytes;
    }

    private string Save(string name, byte[] bytes, IReadOnlyList<CopyChunk> chunks, bool direct, Random random)
    {
        var dir = Path.Combine(_dir, name);
        using var bo = Map(bytes, direct, name + ".bo");
        using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
        var file = writer.OpenPages(Pages, bytes.Length);
        var buffer = new byte[chunks.Max(c => c.Length)];
        foreach (var (c, i) in chunks.Select((c, i) => (c, i)).OrderBy(_ => random.Next()))
        {
            var checksum = ChunkCopy.Save(bo, c, buffer, file, ChunkFaultPoint.None(i), CancellationToken.None);
            Assert.Equal(XxHash64.HashToUInt64(bytes.AsSpan((int)c.FileOffset, c.Length)), checksum);
        }
        if (bo is RecordingMapping recording)
        {
            // Every range was made resident before it was hashed and let go once written: the process's memory stays flat.
            var ranges = chunks.Select(c => (c.Pieces[0].BoOffset, c.Length)).Order().ToList();
            Assert.Equal(ranges, recording.Prefetched.Order().ToList());
            Assert.Equal(ranges, recording.Released.Order().ToList());
        }
        writer.Commit();
        return dir;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_BO_saved_chunk_by_chunk_lands_as_its_bytes_with_each_checksum_their_xxh64_and_restores_to_them(bool direct)
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (bytes, chunks) = Bo(random);
        var dir = Save("image", bytes, chunks, direct, random);

        Assert.True(File.ReadAllBytes(Path.Combine(dir, Pages)).AsSpan(8).SequenceEqual(bytes), $"seed {seed}: the page file does not hold the BO's bytes");
        using var pages = ImageReader.Open(dir).OpenPages(Pages);
        using var restored = Map(new byte[bytes.Length], direct, "restored.bo");
        var buffer = new byte[chunks.Max(c => c.Length)];
        foreach (var (c, i) in chunks.Select((c, i) => (c, i)).OrderBy(_ => random.Next()))
            ChunkCopy.Restore(restored, c, buffer, pages, ChunkFaultPoint.None(i), CancellationToken.None);
        Assert.True(Contents(restored).AsSpan().SequenceEqual(bytes), $"seed {seed}: the restored BO differs from the saved one");
    }

    [Fact]
    public void Small_BOs_sharing_a_chunk_are_written_in_one_checksummed_write_and_read_back_into_each_BO()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var bos = Enumerable.Range(0, random.Next(2, 9)).Select(_ =>
        {
            var b = new byte[random.Next(1, 9000)];
            random.NextBytes(b);
            return b;
        }).ToList();
        var pieces = new List<BoPiece>();
        var at = 0;
        for (var i = 0; i < bos.Count; i++)
        {
            pieces.Add(new BoPiece(i, 0, bos[i].Length, at));
            at += bos[i].Length;
        }
        var chunk = new CopyChunk(random.Next(1, 4096), at, pieces);
        var whole = bos.SelectMany(b => b).ToArray();
        var dir = Path.Combine(_dir, "shared");
        var buffer = new byte[at + random.Next(0, 100)];
        using (var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), [])))
        {
            var file = writer.OpenPages(Pages, chunk.End);
            // An earlier chunk of the file, so this one does not start at its start.
            file.Write(0, new byte[chunk.FileOffset]);
            foreach (var p in pieces.OrderBy(_ => random.Next()))
                ChunkCopy.Piece(new ArrayMapping(bos[p.BoIndex]), p, buffer, saving: true, ChunkFaultPoint.None(0), CancellationToken.None);
            Assert.Equal(XxHash64.HashToUInt64(whole), ChunkCopy.Write(file, chunk, buffer, ChunkFaultPoint.None(0), CancellationToken.None));
            writer.Commit();
        }
        Assert.True(File.ReadAllBytes(Path.Combine(dir, Pages)).AsSpan(8 + (int)chunk.FileOffset).SequenceEqual(whole), $"seed {seed}");

        using var pages = ImageReader.Open(dir).OpenPages(Pages);
        var back = new byte[buffer.Length];
        ChunkCopy.Read(pages, chunk, back, ChunkFaultPoint.None(0), CancellationToken.None);
        var restored = bos.Select(b => new byte[b.Length]).ToList();
        foreach (var p in pieces) ChunkCopy.Piece(new ArrayMapping(restored[p.BoIndex]), p, back, saving: false, ChunkFaultPoint.None(0), CancellationToken.None);
        for (var i = 0; i < bos.Count; i++) Assert.True(restored[i].AsSpan().SequenceEqual(bos[i]), $"seed {seed}: BO {i} restored differs");
    }

    [Fact]
    public void Injected_faults_strike_the_BO_side_before_the_file_side_as_ChunkIoExceptions_the_retry_policy_tells_apart()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (bytes, chunks) = Bo(random);
        var index = random.Next(chunks.Count);
        var c = chunks[index];
        var faults = new ChunkFaults([
            new ChunkFault(Gpu, index, FaultSide.File, ChunkIoException.ShortWrite, 1),
            ChunkFault.OnBo(Gpu, "KFD BO #1", FaultSide.Bo, Errno.EIO, 1),
        ]);
        var at = new ChunkFaultPoint(faults, Gpu, index, [Label]);
        var dir = Path.Combine(_dir, "faults");
        using var bo = new ArrayMapping(bytes);
        var buffer = new byte[c.Length];
        using (var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), [])))
        {
            var file = writer.OpenPages(Pages, bytes.Length);
            var read = Assert.Throws<ChunkIoException>(() => ChunkCopy.Save(bo, c, buffer, file, at, CancellationToken.None));
            Assert.Equal((Errno.EIO, "read of the BO's mapping failed: EIO: injected"), (read.ErrorNumber, read.Message));
            Assert.True(Retry.ShouldRetry(read, 1));
            var torn = Assert.Throws<ChunkIoException>(() => ChunkCopy.Save(bo, c, buffer, file, at, CancellationToken.None));
            Assert.Equal((ChunkIoException.ShortWrite, "write of the page file failed: short write: injected"), (torn.ErrorNumber, torn.Message));
            Assert.True(Retry.ShouldRetry(torn, 2));
            // The retry writes the whole chunk over the half the torn attempt left.
            Assert.Equal(XxHash64.HashToUInt64(bytes.AsSpan((int)c.FileOffset, c.Length)), ChunkCopy.Save(bo, c, buffer, file, at, CancellationToken.None));
            foreach (var (other, i) in chunks.Select((o, i) => (o, i)).Where(o => o.i != index))
                ChunkCopy.Save(bo, other, buffer.Length >= other.Length ? buffer : new byte[other.Length], file, ChunkFaultPoint.None(i), CancellationToken.None);

            // No room on the disk is not worth another try.
            var full = new ChunkFaultPoint(new ChunkFaults([new ChunkFault(Gpu, index, FaultSide.File, Errno.ENOSPC, 1)]), Gpu, index, [Label]);
            var nospc = Assert.Throws<ChunkIoException>(() => ChunkCopy.Write(file, c, bytes.AsSpan((int)c.FileOffset, c.Length), full, CancellationToken.None));
            Assert.Equal(Errno.ENOSPC, nospc.ErrorNumber);
            Assert.False(Retry.ShouldRetry(nospc, 1));
            writer.Commit();
        }
        Assert.Equal(2, faults.Hits(faults.Faults[0]) + faults.Hits(faults.Faults[1]));
        Assert.True(File.ReadAllBytes(Path.Combine(dir, Pages)).AsSpan(8).SequenceEqual(bytes), $"seed {seed}: the retried chunk did not leave the BO's bytes");

        // A restore's first fault is the page file's read.
        using var pages = ImageReader.Open(dir).OpenPages(Pages);
        var eio = new ChunkFaultPoint(new ChunkFaults([new ChunkFault(Gpu, index, FaultSide.File, Errno.EIO, 1), new ChunkFault(Gpu, index, FaultSide.Bo, Errno.EAGAIN, 1)]), Gpu, index, [Label]);
        using var restored = new ArrayMapping(new byte[bytes.Length]);
        var fileFault = Assert.Throws<ChunkIoException>(() => ChunkCopy.Restore(restored, c, buffer, pages, eio, CancellationToken.None));
        Assert.Equal((Errno.EIO, "read of the page file failed: EIO: injected"), (fileFault.ErrorNumber, fileFault.Message));
        var boFault = Assert.Throws<ChunkIoException>(() => ChunkCopy.Restore(restored, c, buffer, pages, eio, CancellationToken.None));
        Assert.Equal((Errno.EAGAIN, "write of the BO's mapping failed: EAGAIN: injected"), (boFault.ErrorNumber, boFault.Message));
        ChunkCopy.Restore(restored, c, buffer, pages, eio, CancellationToken.None);
        Assert.True(Contents(restored).AsSpan((int)c.FileOffset, c.Length).SequenceEqual(bytes.AsSpan((int)c.FileOffset, c.Length)), $"seed {seed}");
    }

    [Fact]
    public void A_byte_changed_in_the_page_file_fails_the_restore_of_its_chunk_naming_the_file_and_the_segment_offset()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (bytes, chunks) = Bo(random);
        // The damaged chunk holds bytes: a chunk of zeros is a hole, with nothing in the file to damage.
        var c = chunks[random.Next(chunks.Count)];
        if (bytes.AsSpan((int)c.FileOffset, c.Length).IndexOfAnyExcept((byte)0) < 0) random.NextBytes(bytes.AsSpan((int)c.FileOffset, c.Length));
        var dir = Save("damaged", bytes, chunks, direct: false, random);
        var path = Path.Combine(dir, Pages);
        using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            var at = 8 + c.FileOffset + random.Next(c.Length);
            var one = new byte[1];
            RandomAccess.Read(f, one, at);
            one[0] ^= 0x40;
            RandomAccess.Write(f, one, at);
        }

        using var pages = ImageReader.Open(dir).OpenPages(Pages);
        var buffer = new byte[c.Length];
        // Into a mapping that is not memory the bytes stream in before their checksum is known: the chunk still fails.
        using var streamed = new ArrayMapping(new byte[bytes.Length]);
        using var direct = Map(new byte[bytes.Length], direct: true, "direct.bo");
        foreach (var bo in new[] { streamed, direct })
        {
            var e = Assert.Throws<ImageException>(() => ChunkCopy.Restore(bo, c, buffer, pages, ChunkFaultPoint.None(0), CancellationToken.None));
            Assert.Equal((Pages, 8 + c.FileOffset), (e.File, e.Offset));
            Assert.Contains("checksum mismatch", e.Message);
        }
        var shared = Assert.Throws<ImageException>(() => ChunkCopy.Read(pages, c, buffer, ChunkFaultPoint.None(0), CancellationToken.None));
        Assert.Equal((Pages, 8 + c.FileOffset), (shared.File, shared.Offset));
    }

    /// <summary>A BO mapping that is not memory the file I/O can use in place.</summary>
    private sealed class ArrayMapping(byte[] bytes) : IBoMapping
    {
        public ulong Size => (ulong)bytes.Length;

        public void Read(ulong offset, Span<byte> destination) => bytes.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);

        public void Write(ulong offset, ReadOnlySpan<byte> source) => source.CopyTo(bytes.AsSpan(checked((int)offset), source.Length));

        public void Dispose() { }
    }

    /// <summary>A real mmap of a file, which records the ranges made resident and let go.</summary>
    private sealed class RecordingMapping(MmapBoMapping inner) : IBoMapping, IDirectBoMapping
    {
        public List<(ulong, int)> Prefetched { get; } = [];
        public List<(ulong, int)> Released { get; } = [];

        public ulong Size => inner.Size;

        public void Read(ulong offset, Span<byte> destination) => inner.Read(offset, destination);

        public void Write(ulong offset, ReadOnlySpan<byte> source) => inner.Write(offset, source);

        public Span<byte> Span(ulong offset, int length) => inner.Span(offset, length);

        public void Prefetch(ulong offset, int length, bool write)
        {
            Prefetched.Add((offset, length));
            inner.Prefetch(offset, length, write);
        }

        public void Release(ulong offset, int length)
        {
            Released.Add((offset, length));
            inner.Release(offset, length);
        }

        public void Dispose() => inner.Dispose();
    }
}
