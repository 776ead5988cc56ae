using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class LargeOffsetSpecs
{
    [Fact]
    public void A_pages_file_past_4_GiB_writes_reads_and_verifies_its_far_chunks()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        const int chunk = 8 << 20;
        const long length = (4L << 30) + 3L * chunk + 4096; // past 2^32, and not a multiple of the chunk
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-4g-{Guid.NewGuid():N}");
        var name = ImageFileName.KfdPages(1, 0xbeef);
        try
        {
            var written = new Dictionary<long, byte[]>();
            using (var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), [])))
            {
                var pages = writer.OpenPages(name, length);
                var offsets = new List<long>();
                for (long o = 0; o < length; o += chunk) offsets.Add(o);
                // Non-zero chunks: one below 2 GiB, and the last few, all beyond 4 GiB (the last one short).
                var dataAt = new HashSet<long> { offsets[3], offsets[^4], offsets[^3], offsets[^1] };
                var zeros = new byte[chunk];
                Parallel.ForEach(offsets, new ParallelOptions { MaxDegreeOfParallelism = 2 }, o =>
                {
                    var n = (int)Math.Min(chunk, length - o);
                    if (!dataAt.Contains(o))
                    {
                        pages.Write(o, zeros.AsSpan(0, n));
                        return;
                    }
                    var data = new byte[n];
                    new Random(seed ^ (int)(o >> 20)).NextBytes(data);
                    lock (written) written[o] = data;
                    pages.Write(o, data);
                });
                writer.Commit();
            }
            Assert.Equal(LengthPrefix.Size + length, new FileInfo(Path.Combine(dir, name)).Length);

            var verified = ImageVerifier.VerifyFiles(dir);
            Assert.True(verified.Ok, $"seed {seed}: {verified.Describe()}");
            Assert.Equal(LengthPrefix.Size + length, verified.BytesChecked);

            using var reader = ImageReader.Open(dir).OpenPages(name);
            Assert.Equal(length, reader.Length);
            foreach (var (offset, data) in written)
            {
                var back = new byte[data.Length];
                reader.ReadVerified(offset, back);
                Assert.True(data.AsSpan().SequenceEqual(back), $"chunk at {offset}, seed {seed}");
            }
            // A read across the 4 GiB line: the end of a hole, then the start of the chunk written at 4 GiB.
            Assert.True(written.ContainsKey(4L << 30));
            var around = new byte[4096];
            around.AsSpan().Fill(0xff);
            reader.ReadVerified((4L << 30) - 2048, around);
            Assert.True(around.AsSpan(0, 2048).IndexOfAnyExcept((byte)0) < 0, $"seed {seed}");
            Assert.True(around.AsSpan(2048).SequenceEqual(written[4L << 30].AsSpan(0, 2048)), $"seed {seed}");

            // Damage beyond 4 GiB is found, and named by its 64-bit offset.
            var far = written.Keys.Max();
            var at = LengthPrefix.Size + far + random.Next(written[far].Length);
            using (var f = File.OpenHandle(Path.Combine(dir, name), FileMode.Open, FileAccess.ReadWrite))
            {
                var b = new byte[1];
                RandomAccess.Read(f, b, at);
                b[0] ^= 0x80;
                RandomAccess.Write(f, b, at);
            }
            var result = ImageVerifier.Verify(dir);
            Assert.False(result.Ok);
            Assert.Equal(name, result.File);
            Assert.Equal(LengthPrefix.Size + far, result.Offset);
            Assert.True(result.Offset > uint.MaxValue);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }
}
