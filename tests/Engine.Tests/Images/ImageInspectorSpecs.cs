using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class ImageInspectorSpecs
{
    [Fact]
    public void An_unfinished_image_shows_its_state_and_what_its_writer_left()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);
        image.Writer.Dispose();

        var inspection = ImageInspector.Inspect(image.Directory);
        Assert.Equal("in-progress", inspection.State);
        Assert.Equal(image.FileCount, inspection.Files.Count);
        Assert.Equal(image.Kfd.BoEntries.Select(b => b.Addr), inspection.KfdBos.Select(b => b.Addr));
        Assert.Equal(2, inspection.RenderNodes.Count);
        Assert.Equal(image.Gpus.Select(g => ImageFileName.KfdPages(SampleImage.KfdId, g.GpuId)), inspection.Devices.Select(d => d.PagesFile));
        Assert.Empty(inspection.Problems);
    }

    [Fact]
    public void Kfd_bo_contents_lie_back_to_back_per_gpu_in_bucket_order()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var inspection = ImageInspector.Inspect(image.Directory);
        foreach (var gpu in image.Gpus)
        {
            ulong at = 0;
            foreach (var (bo, i) in image.Kfd.BoEntries.Select((b, i) => (b, i)).Where(x => x.b.GpuId == gpu.GpuId))
            {
                Assert.True(inspection.KfdBos[i].PagesOffset == (long)at, $"bo {i}, seed {seed}");
                at += bo.Size;
            }
            Assert.Equal(at, inspection.Devices.Single(d => d.GpuId == gpu.GpuId).ContentBytes);
        }
    }

    [Fact]
    public void A_committed_image_with_a_stray_file_reports_it_as_a_problem()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        File.WriteAllBytes(image.FilePath(ImageFileName.Dmabuf(77)), [1, 0, 0, 0, 0, 0, 0, 0, 8]);
        var inspection = ImageInspector.Inspect(image.Directory);
        Assert.Contains($"{ImageFileName.Dmabuf(77)}: not listed in the manifest", inspection.Problems);
    }
}
