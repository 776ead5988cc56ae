using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class ImageCorruptionSpecs
{
    [Fact]
    public void A_flipped_byte_anywhere_in_any_file_fails_verify_naming_that_file_and_segment()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        Assert.True(ImageVerifier.Verify(image.Directory).Ok, $"fresh image, {image.Why}");
        var manifest = ManifestCodec.Load(image.Directory);
        var random = new Random(seed);
        var files = Directory.EnumerateFiles(image.Directory).Select(Path.GetFileName).ToList();
        Assert.Contains(ImageManifest.FileName, files);

        foreach (var name in files)
        {
            var path = image.FilePath(name!);
            var original = File.ReadAllBytes(path);
            // The first byte, the last byte, a prefix byte and random ones.
            long[] offsets = [0, original.Length - 1, Math.Min(5, original.Length - 1), .. Enumerable.Range(0, 6).Select(_ => random.NextInt64(original.Length))];
            foreach (var at in offsets)
            {
                var damaged = (byte[])original.Clone();
                damaged[at] ^= (byte)random.Next(1, 256);
                File.WriteAllBytes(path, damaged);
                var result = ImageVerifier.Verify(image.Directory);
                File.WriteAllBytes(path, original);

                var why = $"{name} byte {at} flipped, {image.Why}: got {result.Describe()}";
                Assert.False(result.Ok, why);
                Assert.Equal(name, result.File);
                if (manifest.FindFile(name!) is { } entry && ImageFileName.Parse(name!).Kind.IsPages())
                {
                    var segment = entry.Segments.Single(s => s.Offset <= at && at < s.End);
                    Assert.True(result.Offset == segment.Offset || (at < 8 && result.Offset == 0), why);
                }
            }
        }
        Assert.True(ImageVerifier.Verify(image.Directory).Ok, $"restored image, {image.Why}");
    }

    [Fact]
    public void A_flipped_byte_in_a_hole_fails_the_verified_read_of_that_segment()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var (name, (payload, chunks)) = image.Pages.First();
        var zeroChunk = chunks[1];
        var at = 8 + zeroChunk.Offset + image.Random.Next(zeroChunk.Length);
        using (var f = File.OpenHandle(image.FilePath(name), FileMode.Open, FileAccess.Write))
            RandomAccess.Write(f, new byte[] { 0x5a }, at);

        var reader = ImageReader.Open(image.Directory);
        using var pages = reader.OpenPages(name);
        var e = Assert.Throws<ImageException>(() => pages.ReadVerified(zeroChunk.Offset, new byte[zeroChunk.Length]));
        Assert.Equal(name, e.File);
        Assert.Equal(8 + zeroChunk.Offset, e.Offset);
        Assert.Contains("checksum mismatch", e.Message);
        // The chunks beside it are still good.
        var next = new byte[chunks[2].Length];
        pages.ReadVerified(chunks[2].Offset, next);
        Assert.True(payload.AsSpan((int)chunks[2].Offset, next.Length).SequenceEqual(next), image.Why);
    }

    [Fact]
    public void A_truncated_file_is_refused_with_its_name_and_sizes()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var name = image.Pages.Keys.Last();
        var path = image.FilePath(name);
        var size = new FileInfo(path).Length;
        using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.Write)) RandomAccess.SetLength(f, size - 100);

        var result = ImageVerifier.Verify(image.Directory);
        Assert.False(result.Ok);
        Assert.Equal(name, result.File);
        Assert.Contains($"truncated: {size - 100} bytes, the manifest says {size}", result.Reason);
        var e = Assert.Throws<ImageException>(() => ImageReader.Open(image.Directory));
        Assert.Equal(name, e.File);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void A_missing_file_and_a_stray_file_are_refused()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var dmabuf = ImageFileName.Dmabuf(SampleImage.DmabufId);
        File.Move(image.FilePath(dmabuf), image.FilePath(ImageFileName.Dmabuf(99)));

        var result = ImageVerifier.Verify(image.Directory);
        Assert.False(result.Ok);
        Assert.Equal(ImageFileName.Dmabuf(99), result.File);
        Assert.Contains("not listed in the manifest", result.Reason);

        File.Delete(image.FilePath(ImageFileName.Dmabuf(99)));
        result = ImageVerifier.Verify(image.Directory);
        Assert.Equal(dmabuf, result.File);
        Assert.Contains("missing", result.Reason);
    }

    [Fact]
    public void An_in_progress_image_is_refused_by_open_and_verify()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);

        var e = Assert.Throws<ImageException>(() => ImageReader.Open(image.Directory));
        Assert.Equal("manifest.json: image is in-progress, not committed (its writer is still running or died)", e.Message);
        var result = ImageVerifier.Verify(image.Directory);
        Assert.False(result.Ok);
        Assert.Equal("manifest.json", result.File);
        Assert.Contains("in-progress", result.Reason);
    }

    [Fact]
    public void An_aborted_image_says_why_it_failed()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);
        image.Writer.Abort("GPU 1a2b: copy failed: EIO");

        var e = Assert.Throws<ImageException>(() => ImageReader.Open(image.Directory));
        Assert.Contains("image is failed, not committed: GPU 1a2b: copy failed: EIO", e.Message);
        Assert.Equal(ImageState.Failed, ManifestCodec.Load(image.Directory).State);
    }
}
