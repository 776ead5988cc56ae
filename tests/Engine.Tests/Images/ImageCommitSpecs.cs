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
    public void A_signed_commit_takes_each_files_digest_as_written_and_it_verifies_as_read_back()
    {
        var random = new Random(TestSeed.Fresh());
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-signed-{Guid.NewGuid():N}");
        var keyFile = Path.Combine(Path.GetTempPath(), $"gpuckpt-key-{Guid.NewGuid():N}");
        try
        {
            var key = ImageKey.LoadOrCreate(keyFile);
            using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
            // Pieces in shuffled order from two threads, one of them all zeros (left a hole): a direct-I/O file, and a
            // small buffered one.
            const int piece = 256 << 10;
            var large = writer.OpenPages(ImageFileName.KfdPages(1, 0x1000), 24L * piece);
            var order = Enumerable.Range(0, 24).ToArray();
            random.Shuffle(order);
            var pieces = order.Select(i =>
            {
                var bytes = new byte[piece];
                if (i != 5) random.NextBytes(bytes);
                return (i, bytes);
            }).ToList();
            Parallel.ForEach(pieces, new ParallelOptions { MaxDegreeOfParallelism = 2 }, p => large.Write((long)p.i * piece, p.bytes));
            var small = writer.OpenPages(ImageFileName.KfdPages(1, 0x2000), 3 * 4096);
            var data = new byte[4096];
            random.NextBytes(data);
            small.Write(2 * 4096, data);
            small.Write(0, data);
            // A place written again with other bytes (a retried or re-copied piece): its digest is the new bytes'.
            random.NextBytes(data);
            small.Write(0, data);
            small.Write(4096, data);

            var manifest = writer.Commit(signWith: key);

            // The signature holds what the files hold, read back from disk.
            var readBack = FileDigest.ReadAll(dir, manifest);
            ImageSignature.Check(manifest, readBack, key);
            Assert.Equal(readBack[large.FileName], large.Digest);
            Assert.Equal(readBack[small.FileName], small.Digest);
            Assert.True(ImageVerifier.VerifyFiles(dir).Ok);
            // The digest is of the bytes: one byte changed on disk changes it.
            var path = Path.Combine(dir, large.FileName);
            var bytesOnDisk = File.ReadAllBytes(path);
            bytesOnDisk[LengthPrefix.Size + 7 * piece + random.Next(piece)] ^= 1;
            File.WriteAllBytes(path, bytesOnDisk);
            Assert.NotEqual(large.Digest, FileDigest.Read(dir, manifest.FindFile(large.FileName)!, manifest.FormatVersion));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            File.Delete(keyFile);
        }
    }

    [Fact]
    public void A_writer_that_keeps_no_digests_commits_an_unsigned_image_that_verifies_and_refuses_to_sign_one()
    {
        var random = new Random(TestSeed.Fresh());
        var root = Path.Combine(Path.GetTempPath(), $"gpuckpt-unsigned-{Guid.NewGuid():N}");
        var keyFile = Path.Combine(Path.GetTempPath(), $"gpuckpt-key-{Guid.NewGuid():N}");
        try
        {
            var key = ImageKey.LoadOrCreate(keyFile);
            var data = new byte[64 << 10];
            random.NextBytes(data);
            ImageWriter Written(string dir)
            {
                var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
                writer.KeepDigests = false;
                var file = writer.OpenPages(ImageFileName.KfdPages(1, 0x1000), 2L * data.Length);
                file.Write(data.Length, data);
                file.Write(0, data);
                return writer;
            }

            using (var unsigned = Written(Path.Combine(root, "unsigned")))
            {
                var manifest = unsigned.Commit();
                Assert.Null(manifest.Signature);
            }
            Assert.True(ImageVerifier.VerifyFiles(Path.Combine(root, "unsigned")).Ok);

            // Asked to sign all the same, it refuses rather than sign digests it never took.
            using var signing = Written(Path.Combine(root, "signing"));
            var e = Assert.Throws<InvalidOperationException>(() => signing.Commit(signWith: key));
            Assert.Contains("no digest recorded", e.Message);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
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
