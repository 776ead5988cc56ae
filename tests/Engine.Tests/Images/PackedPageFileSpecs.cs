using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// Page files whose pieces are packed with LZ4 (<c>checkpoint --compress</c>), on the real filesystem of the temp
/// directory: what is read back equals what was written, whole, in part or streamed, with or without O_DIRECT; a piece
/// that does not pack stays as it is; the rest of a packed piece costs no disk; a damaged block or a manifest that lies
/// about one is refused naming the file and the segment's offset.
/// </summary>
public sealed class PackedPageFileSpecs : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gpuckpt-packed-").FullName;
    private static readonly string Name = ImageFileName.KfdPages(1, 0x1234);

    public void Dispose() => Directory.Delete(_root, true);

    private enum Kind { Sparse, Noise, Zeros, Text }

    /// <summary>
    /// Several MiB cut into pieces of one random size (at least a packed piece's minimum), each of one kind: a quarter
    /// of noise then zeros (packs), noise (does not), zeros, or repeated text (packs well).
    /// </summary>
    private static (byte[] Payload, List<(long Offset, int Length, Kind Kind)> Pieces) Contents(Random random)
    {
        var payload = new byte[(6 << 20) + random.Next(0, 4 << 20) + random.Next(1, 4096)];
        // From the shortest piece packed to pieces long enough (1 MiB) to be sampled before they are packed.
        var chunk = PackedSegment.MinLength + random.Next(0, 400) * 4096 + random.Next(0, 4096);
        var pieces = new List<(long, int, Kind)>();
        var kinds = Enum.GetValues<Kind>();
        for (long at = 0; at < payload.Length; at += chunk)
        {
            var length = (int)Math.Min(chunk, payload.Length - at);
            // Every kind at least once, then at random.
            var kind = pieces.Count < kinds.Length ? kinds[pieces.Count] : kinds[random.Next(kinds.Length)];
            var piece = payload.AsSpan((int)at, length);
            switch (kind)
            {
                case Kind.Sparse: random.NextBytes(piece[..(length / 4)]); break;
                case Kind.Noise: random.NextBytes(piece); break;
                case Kind.Text:
                    var line = System.Text.Encoding.ASCII.GetBytes($"step {random.Next()}: loss {random.NextDouble():F6}\n");
                    for (var i = 0; i < length; i++) piece[i] = line[i % line.Length];
                    break;
            }
            pieces.Add((at, length, kind));
        }
        return (payload, pieces);
    }

    private string Write(string name, byte[] payload, IReadOnlyList<(long Offset, int Length, Kind Kind)> pieces, bool directIo, bool pack, Random random)
    {
        var dir = Path.Combine(_root, name);
        using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
        writer.DirectIo = directIo;
        writer.Pack = pack;
        var file = writer.OpenPages(Name, payload.Length);
        Parallel.ForEach(pieces.OrderBy(_ => random.Next()).ToList(), new ParallelOptions { MaxDegreeOfParallelism = 4 },
            p => file.Write(p.Offset, payload.AsSpan((int)p.Offset, p.Length)));
        writer.Commit();
        return dir;
    }

    [Fact]
    public void Packed_pieces_read_back_equal_whole_in_part_or_streamed_and_their_zeros_cost_no_disk()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (payload, pieces) = Contents(random);
        foreach (var directIo in new[] { true, false })
        {
            var dir = Write($"packed-{directIo}", payload, pieces, directIo, pack: true, random);
            var manifest = ManifestCodec.Load(dir);
            Assert.Equal(PackedSegment.FirstFormat, manifest.FormatVersion);
            var segments = manifest.Files.Single(f => f.Name == Name).Segments.Skip(1).ToList();
            Assert.Equal(pieces.Count, segments.Count);
            for (var i = 0; i < pieces.Count; i++)
            {
                var (offset, length, kind) = pieces[i];
                var s = segments[i];
                Assert.Equal(8 + offset, s.Offset);
                // Text and a quarter of noise pack (a last piece shorter than the minimum stays as it is); noise and zeros do not.
                var packs = kind is Kind.Sparse or Kind.Text && length >= PackedSegment.MinLength;
                Assert.True(packs == s.Packed, $"seed {seed}: piece {i} ({kind}, {length} bytes) packed: {s.Packed}");
                if (!s.Packed) continue;
                Assert.InRange(s.Lz4, 1, length - length / 8);
                // Past the block's last block, the piece is a hole: it takes no disk.
                var from = (s.Offset + s.Lz4 + 4095) / 4096 * 4096;
                var to = s.End / 4096 * 4096;
                if (to > from)
                {
                    using var handle = File.OpenHandle(Path.Combine(dir, Name));
                    Assert.True(FileSync.IsHole(handle, from, to - from), $"seed {seed}: piece {i}'s zeros after its LZ4 block are on disk");
                }
            }
            Assert.True(ImageVerifier.VerifyFiles(dir).Ok, ImageVerifier.VerifyFiles(dir).Describe());

            using var pages = ImageReader.Open(dir).OpenPages(Name);
            var back = new byte[payload.Length];
            foreach (var (offset, length, _) in pieces.OrderBy(_ => random.Next()))
                pages.ReadVerified(offset, back.AsSpan((int)offset, length));
            Assert.True(back.AsSpan().SequenceEqual(payload), $"seed {seed}: the packed file read back differs from what was written");

            var streamed = new byte[payload.Length];
            foreach (var (offset, length, _) in pieces.OrderBy(_ => random.Next()))
                pages.ReadVerified(offset, new byte[length], (at, bytes) => bytes.CopyTo(streamed.AsSpan((int)offset + at)));
            Assert.True(streamed.AsSpan().SequenceEqual(payload), $"seed {seed}: the packed file streamed back differs from what was written");

            // Ranges that cut across pieces (a restore whose chunks differ from the checkpoint's) read every piece they touch.
            for (var k = 0; k < 20; k++)
            {
                var start = random.NextInt64(payload.Length);
                var length = (int)Math.Min(random.Next(1, 3 << 20), payload.Length - start);
                var part = new byte[length];
                pages.ReadVerified(start, part);
                Assert.True(part.AsSpan().SequenceEqual(payload.AsSpan((int)start, length)), $"seed {seed}: range [{start}, +{length}) differs");
            }
        }
        // The same pieces unpacked take more disk than packed.
        var plain = Write("plain", payload, pieces, directIo: true, pack: false, random);
        Assert.DoesNotContain(ManifestCodec.Load(plain).Files.SelectMany(f => f.Segments), s => s.Packed);
        Assert.True(DiskBytes(Path.Combine(_root, "packed-True", Name)) < DiskBytes(Path.Combine(plain, Name)), $"seed {seed}");
    }

    [Fact]
    public void A_damaged_block_or_a_manifest_that_lies_about_it_is_refused_naming_the_file_and_the_segment()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (payload, pieces) = Contents(random);
        var dir = Write("damaged", payload, pieces, directIo: true, pack: true, random);
        var manifest = ManifestCodec.Load(dir);
        var file = manifest.Files.Single(f => f.Name == Name);
        var packed = file.Segments.Where(s => s.Packed).ToList();
        var target = packed[random.Next(packed.Count)];
        var offset = target.Offset - 8;

        // A manifest whose block is one byte shorter than the file's: the checksum still holds, the block does not decode.
        var shorter = Replace(manifest, file, target with { Lz4 = target.Lz4 - 1 });
        ManifestCodec.Store(dir, shorter);
        var verified = ImageVerifier.VerifyFiles(dir);
        Assert.False(verified.Ok, $"seed {seed}");
        Assert.Equal((Name, target.Offset), (verified.File, verified.Offset));
        Assert.Contains("LZ4 block", verified.Reason);
        using (var pages = ImageReader.Open(dir).OpenPages(Name))
        {
            var e = Assert.Throws<ImageException>(() => pages.ReadVerified(offset, new byte[target.Length]));
            Assert.Equal((Name, target.Offset), (e.File, e.Offset));
        }

        // The rules refuse what no writer makes, before any byte is read.
        ManifestCodec.Store(dir, manifest);
        Refused(Replace(manifest, file, target with { Lz4 = target.Length }), target.Offset, "claims an LZ4 block");
        Refused(Replace(manifest, file, target with { Zero = true }), target.Offset, "segment marked both zero and lz4");
        // An older format with packed segments: the first one is named.
        Refused(manifest with { FormatVersion = 3 }, packed[0].Offset, "segment marked lz4 in an image of format 3");
        Refused(Replace(manifest, file, file.Segments[0] with { Lz4 = 4 }), 0, "segment marked lz4 outside the contents of a page file");

        // A byte of the block changed on disk: the checksum finds it.
        ManifestCodec.Store(dir, manifest);
        var at = target.Offset + random.NextInt64(target.Lz4);
        using (var f = File.OpenHandle(Path.Combine(dir, Name), FileMode.Open, FileAccess.ReadWrite))
        {
            var one = new byte[1];
            RandomAccess.Read(f, one, at);
            one[0] ^= 0x40;
            RandomAccess.Write(f, one, at);
        }
        using (var pages = ImageReader.Open(dir).OpenPages(Name))
        {
            var e = Assert.Throws<ImageException>(() => pages.ReadVerified(offset, new byte[target.Length]));
            Assert.Equal((Name, target.Offset), (e.File, e.Offset));
            Assert.Contains("checksum mismatch", e.Message);
        }
        var damaged = ImageVerifier.VerifyFiles(dir);
        Assert.Equal((false, Name, target.Offset), (damaged.Ok, damaged.File, damaged.Offset));
    }

    private static void Refused(ImageManifest manifest, long offset, string expected)
    {
        var e = Assert.Throws<ImageException>(() => ManifestCodec.Decode(ManifestCodec.Encode(manifest)));
        Assert.Equal((Name, offset), (e.File, e.Offset));
        Assert.Contains(expected, e.Message);
    }

    private static ImageManifest Replace(ImageManifest m, ManifestFile file, Segment segment) => m with
    {
        Files = [.. m.Files.Select(f => f.Name != file.Name ? f : f with { Segments = [.. f.Segments.Select(s => s.Offset == segment.Offset ? segment : s)] })],
    };

    /// <summary>The bytes the file takes on disk (stat's blocks of 512 bytes).</summary>
    private static long DiskBytes(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b", path]) { RedirectStandardOutput = true })!;
        var blocks = long.Parse(stat.StandardOutput.ReadToEnd().Trim(), System.Globalization.CultureInfo.InvariantCulture);
        stat.WaitForExit();
        return blocks * 512;
    }
}
