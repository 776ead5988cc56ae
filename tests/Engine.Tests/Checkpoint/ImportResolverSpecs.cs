using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Checkpoint;

public class ImportResolverSpecs
{
    [Fact]
    public void An_import_seen_before_its_exporter_is_deferred_then_linked()
    {
        var resolver = new ImportResolver();
        resolver.AddRenderNode(Node(0x10, Bo(5, inode: 900, import: true)));
        Assert.Equal(1, resolver.Deferred);

        resolver.AddRenderNode(Node(0x20, Bo(7, inode: 900, import: false)));

        var link = Assert.Single(resolver.Finish());
        Assert.Equal((0, 0x10u, 5u), (link.NodeIndex, link.GpuId, link.Handle));
        Assert.Equal(new Exporter.Render(1, 0x20, 7), link.Exporter);
    }

    [Fact]
    public void KFD_exports_are_exporters_of_render_imports()
    {
        var resolver = new ImportResolver();
        resolver.AddKfd([(0x10u, 3, 0x7000_0000UL, 41UL)]);
        resolver.AddRenderNode(Node(0x20, Bo(2, inode: 41, import: true)));

        Assert.Equal(new Exporter.Kfd(0x10, 3, 0x7000_0000), Assert.Single(resolver.Finish()).Exporter);
    }

    [Fact]
    public void An_import_nobody_in_the_process_exports_fails_the_dump_naming_it()
    {
        var resolver = new ImportResolver();
        resolver.AddKfd([(0x10u, 0, 0x1000UL, 1UL)]);
        resolver.AddRenderNode(Node(0x20, Bo(9, inode: 555, import: true)));

        var error = Assert.Throws<InvalidOperationException>(resolver.Finish);
        Assert.Contains("render BO handle 9 on GPU 0x20", error.Message);
        Assert.Contains("inode 555", error.Message);
    }

    [Fact]
    public void A_render_BO_holding_a_KFD_buffer_is_an_import_even_without_the_kernel_flag()
    {
        // Importing a KFD BO into a render node of the same device gives the KFD BO itself: no IS_IMPORT flag.
        var resolver = new ImportResolver();
        resolver.AddKfd([(0x10u, 4, 0x7100_0000UL, 77UL)]);
        var selfImport = Bo(3, inode: 77, import: false);
        var own = Bo(4, inode: 78, import: false);
        resolver.AddRenderNode(Node(0x10, selfImport, own));

        Assert.True(resolver.IsImport(selfImport));
        Assert.False(resolver.IsImport(own));
        var link = Assert.Single(resolver.Finish());
        Assert.Equal((3u, new Exporter.Kfd(0x10, 4, 0x7100_0000) as Exporter), (link.Handle, link.Exporter));
    }

    private static RenderBo Bo(uint handle, ulong inode, bool import) =>
        new(new DrmAmdgpuGemListHandlesEntry { gem_handle = handle, size = 4096, flags = import ? AmdgpuGem.ListHandlesFlagIsImport : 0 }, 0, [], inode);

    private static RenderNodeSnapshot Node(uint gpu, params RenderBo[] bos) => new(128, gpu, bos);
}
