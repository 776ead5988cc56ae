using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class ImageCommitSpecs
{
    [Fact]
    public void Before_commit_the_image_is_not_readable_as_committed_and_after_it_is()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);

        Assert.Equal(ImageState.InProgress, ManifestCodec.Load(image.Directory).State);
        Assert.Throws<ImageException>(() => ImageReader.Open(image.Directory));
        Assert.False(ImageVerifier.Verify(image.Directory).Ok);

        image.Writer.Commit(image.Links);

        Assert.Equal(ImageState.Committed, ImageReader.Open(image.Directory).Manifest.State);
        Assert.True(ImageVerifier.Verify(image.Directory).Ok, image.Why);
        Assert.False(File.Exists(image.FilePath("manifest.json.tmp")));
    }

    [Fact]
    public void A_manifest_whose_replacement_never_landed_is_the_old_one_whole()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);
        var before = File.ReadAllBytes(image.FilePath(ImageManifest.FileName));
        image.Writer.Commit(image.Links);
        var committed = File.ReadAllBytes(image.FilePath(ImageManifest.FileName));

        // A crash between writing manifest.json.tmp and the rename leaves the in-progress manifest in place.
        File.WriteAllBytes(image.FilePath("manifest.json.tmp"), committed);
        File.WriteAllBytes(image.FilePath(ImageManifest.FileName), before);
        Assert.Throws<ImageException>(() => ImageReader.Open(image.Directory));

        // A half-written manifest (a crash inside a non-atomic write) is never mistaken for a good one.
        File.WriteAllBytes(image.FilePath(ImageManifest.FileName), committed[..(committed.Length / 2)]);
        var e = Assert.Throws<ImageException>(() => ImageReader.Open(image.Directory));
        Assert.Equal(ImageManifest.FileName, e.File);
    }

    [Fact]
    public void A_signed_commit_takes_each_files_SHA_256_as_written_and_it_verifies_as_read_back()
    {
        var random = new Random(TestSeed.Fresh());
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-signed-{Guid.NewGuid():N}");
        var keyFile = Path.Combine(Path.GetTempPath(), $"gpuckpt-key-{Guid.NewGuid():N}");
        try
        {
            var key = ImageKey.LoadOrCreate(keyFile);
            using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
            // Pieces in shuffled order, one of them all zeros (left a hole): a direct-I/O file, and a small buffered one.
            const int piece = 256 << 10;
            var large = writer.OpenPages(ImageFileName.KfdPages(1, 0x1000), 24L * piece);
            var order = Enumerable.Range(0, 24).ToArray();
            random.Shuffle(order);
            foreach (var i in order)
            {
                var bytes = new byte[piece];
                if (i != 5) random.NextBytes(bytes);
                large.Write((long)i * piece, bytes);
            }
            var small = writer.OpenPages(ImageFileName.KfdPages(1, 0x2000), 3 * 4096);
            var data = new byte[4096];
            random.NextBytes(data);
            small.Write(2 * 4096, data);
            small.Write(0, data);
            // A place written again with other bytes (a retried or re-copied piece): that file is read back.
            random.NextBytes(data);
            small.Write(0, data);
            small.Write(4096, data);

            var manifest = writer.Commit(signWith: key);

            Assert.NotNull(large.Sha256);
            Assert.Null(small.Sha256);
            // The signature holds what the files hold, read back whole.
            ImageSignature.Check(manifest, manifest.Files.ToDictionary(f => f.Name, f => ImageFiles.Sha256(dir, f.Name)), key);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, large.FileName)))), large.Sha256);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            File.Delete(keyFile);
        }
    }

    [Fact]
    public void Commit_refuses_a_pages_file_with_an_unwritten_range()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-gap-{Guid.NewGuid():N}");
        try
        {
            using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
            var name = ImageFileName.KfdPages(1, 0x1234);
            var pages = writer.OpenPages(name, 3 * 4096);
            var data = new byte[4096];
            new Random(3).NextBytes(data);
            pages.Write(0, data);
            pages.Write(2 * 4096, data);

            var e = Assert.Throws<ImageException>(() => writer.Commit());
            Assert.Equal($"{name}: offset 4104: bytes [4104, 8200) were never written (no segment covers them)", e.Message);
            Assert.Equal(ImageState.InProgress, ManifestCodec.Load(dir).State);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Create_refuses_a_directory_that_is_not_empty_and_a_file_written_twice()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-dup-{Guid.NewGuid():N}");
        try
        {
            using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
            Assert.Throws<ImageException>(() => ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), [])));
            writer.WriteMessage(ImageFileName.Dmabuf(1), new CriuDmabufNode { GemHandle = 5 });
            var e = Assert.Throws<ImageException>(() => writer.WriteMessage(ImageFileName.Dmabuf(1), new CriuDmabufNode { GemHandle = 6 }));
            Assert.Contains("written twice", e.Message);
            Assert.Throws<ArgumentException>(() => writer.WriteMessage(ImageFileName.Kfd(2), new CriuDmabufNode { GemHandle = 6 }));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
