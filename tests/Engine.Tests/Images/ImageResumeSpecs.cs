using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class ImageResumeSpecs
{
    [Fact]
    public void A_reopened_image_keeps_surviving_pieces_redoes_damaged_ones_and_commits_whole()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);
        var (name, (payload, chunks)) = image.Pages.First();
        image.Writer.Dispose(); // the writer dies before Commit

        // The crash tore the last render node file, and damaged one piece of contents.
        var torn = ImageFileName.RenderNode(SampleImage.RenderBId);
        var tornPath = image.FilePath(torn);
        File.WriteAllBytes(tornPath, File.ReadAllBytes(tornPath)[..20]);
        var damaged = chunks[^1];
        using (var f = File.OpenHandle(image.FilePath(name), FileMode.Open, FileAccess.Write))
            RandomAccess.Write(f, new byte[] { 0x42, 0x43 }, 8 + damaged.Offset + 3);

        using var writer = ImageWriter.Reopen(image.Directory);
        Assert.True(writer.Contains(ImageFileName.Kfd(SampleImage.KfdId)));
        Assert.False(writer.Contains(torn));
        Assert.False(File.Exists(tornPath));
        writer.WriteMessage(torn, image.RenderB);

        var redone = new List<int>();
        foreach (var pagesName in image.Pages.Keys)
        {
            var (data, pieces) = image.Pages[pagesName];
            var file = writer.OpenPages(pagesName, data.Length);
            for (var i = 0; i < pieces.Count; i++)
            {
                var (offset, length) = pieces[i];
                var piece = data.AsSpan((int)offset, length);
                // The engine's journal holds each piece's checksum as Write returned it.
                if (file.Adopt(offset, length, SegmentHash.Of(piece))) continue;
                if (pagesName == name) redone.Add(i);
                file.Write(offset, piece);
            }
        }
        Assert.Equal([chunks.Count - 1], redone);
        writer.Commit(image.Links);

        var result = ImageVerifier.Verify(image.Directory);
        Assert.True(result.Ok, $"seed {seed}: {result.Describe()}");
        var reader = ImageReader.Open(image.Directory);
        Assert.True(image.RenderB.Equals(reader.Read(torn, CriuRenderNode.Parser)), image.Why);
        using var pages = reader.OpenPages(name);
        var back = new byte[payload.Length];
        pages.ReadVerified(0, back);
        Assert.True(payload.AsSpan().SequenceEqual(back), image.Why);
    }

    [Fact]
    public void A_piece_of_zeros_written_into_a_reopened_file_replaces_what_the_dead_writer_left_there()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);
        image.Writer.Dispose();
        using var writer = ImageWriter.Reopen(image.Directory);
        var (name, (payload, chunks)) = image.Pages.First();
        var (zeroAt, zeroLength) = chunks[0];

        foreach (var pagesName in image.Pages.Keys)
        {
            var (data, pieces) = image.Pages[pagesName];
            var file = writer.OpenPages(pagesName, data.Length);
            foreach (var (offset, length) in pieces)
            {
                // The first piece is zeros now; the dead writer's bytes are still on disk in that range.
                if (pagesName == name && offset == zeroAt) file.Write(offset, new byte[length]);
                else if (!file.Adopt(offset, length, SegmentHash.Of(data.AsSpan((int)offset, length)))) file.Write(offset, data.AsSpan((int)offset, length));
            }
        }
        writer.Commit(image.Links);

        var result = ImageVerifier.Verify(image.Directory);
        Assert.True(result.Ok, $"seed {seed}: {result.Describe()}");
        using var pages = ImageReader.Open(image.Directory).OpenPages(name);
        var back = new byte[zeroLength];
        pages.ReadVerified(zeroAt, back);
        Assert.True(back.All(b => b == 0), $"seed {seed}: {name}: the zeros written at {zeroAt} read back as the old bytes");
        Assert.True(payload.AsSpan((int)zeroAt, zeroLength).IndexOfAnyExcept((byte)0) >= 0, $"seed {seed}: the old piece was zeros already");
    }

    [Fact]
    public void Reopen_refuses_a_committed_image_and_commit_refuses_a_pages_file_left_behind()
    {
        var seed = TestSeed.Fresh();
        using (var done = new SampleImage(seed))
        {
            var e = Assert.Throws<ImageException>(() => ImageWriter.Reopen(done.Directory));
            Assert.Equal("manifest.json: image is committed: only an in-progress image can be reopened", e.Message);
        }

        using var image = new SampleImage(seed, commit: false);
        image.Writer.Dispose();
        using var writer = ImageWriter.Reopen(image.Directory);
        var e2 = Assert.Throws<ImageException>(() => writer.Commit());
        Assert.Contains("written before the crash but never reopened", e2.Message);
        Assert.Equal(image.Pages.Keys.Order(StringComparer.Ordinal).First(), e2.File);
    }
}
