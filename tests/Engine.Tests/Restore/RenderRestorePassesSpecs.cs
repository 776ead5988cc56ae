using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Restore;
using Xunit;

namespace Gpuckpt.Engine.Tests.Restore;

public class RenderRestorePassesSpecs
{
    private const uint Gpu0 = 0x10, Gpu1 = 0x20;

    [Fact]
    public void An_import_listed_before_its_exporter_is_skipped_then_restored_on_the_next_pass()
    {
        // Node 2 (GPU0) imports handle 7 of node 3 (GPU1); node 2 comes first.
        var nodes = new[] { Node(2, Gpu0, Import(5)), Node(3, Gpu1, Create(7)) };
        var links = new[] { ImportLink.FromRender(2, 5, Gpu1, 3, 7) };
        var ops = new RecordingOps();

        var log = RenderRestorePasses.Run(nodes, links, Kfd(), ops);

        Assert.Equal(2, log.Count);
        Assert.Equal(["create 3/7", "import 2/5"], ops.Calls);
        Assert.Equal([7u], log.Passes[0].Select(b => b.Handle));
        Assert.Equal([5u], log.Passes[1].Select(b => b.Handle));
    }

    [Fact]
    public void Imports_of_KFD_exports_restore_in_the_first_pass_after_the_nodes_own_BOs()
    {
        var nodes = new[] { Node(2, Gpu0, Import(1), Create(2), Create(3)) };
        var links = new[] { ImportLink.FromKfd(2, 1, Gpu0, 0x7000_0000) };
        var ops = new RecordingOps();

        var log = RenderRestorePasses.Run(nodes, links, Kfd((Gpu0, 0x7000_0000UL)), ops);

        Assert.Equal(1, log.Count);
        Assert.Equal(["create 2/2", "create 2/3", "import 2/1"], ops.Calls);
    }

    [Fact]
    public void Work_done_in_an_earlier_attempt_is_not_redone()
    {
        var nodes = new[] { Node(2, Gpu0, Create(1), Create(2)) };
        var ops = new RecordingOps();

        RenderRestorePasses.Run(nodes, [], Kfd(), ops, new HashSet<(int, uint)> { (2, 1) });

        Assert.Equal(["create 2/2"], ops.Calls);
    }

    [Fact]
    public void An_import_whose_exporter_is_missing_from_the_image_names_both()
    {
        var nodes = new[] { Node(2, Gpu0, Import(9)) };
        var links = new[] { ImportLink.FromKfd(2, 9, Gpu1, 0xdead_0000) };

        var error = Assert.Throws<ImageException>(() => RenderRestorePasses.Run(nodes, links, Kfd((Gpu0, 0x1000UL)), new RecordingOps()));

        Assert.Contains("render BO handle 9 on GPU 0x10", error.Message);
        Assert.Contains("KFD BO at 0xdead0000 on GPU 0x20", error.Message);
    }

    [Fact]
    public void An_import_without_a_recorded_exporter_is_refused_before_anything_is_created()
    {
        var nodes = new[] { Node(2, Gpu0, Create(1), Import(4)) };
        var ops = new RecordingOps();

        var error = Assert.Throws<ImageException>(() => RenderRestorePasses.Run(nodes, [], Kfd(), ops));

        Assert.Contains("handle 4", error.Message);
        Assert.Empty(ops.Calls);
    }

    [Fact]
    public void A_failing_create_stops_the_passes_with_its_error()
    {
        var nodes = new[] { Node(2, Gpu0, Create(1), Create(2)) };
        var ops = new RecordingOps { FailOn = 2 };

        var error = Assert.Throws<InvalidOperationException>(() => RenderRestorePasses.Run(nodes, [], Kfd(), ops));

        Assert.Contains("handle 2", error.Message);
        Assert.Equal(["create 2/1"], ops.Calls);
    }

    private static DrmBoEntry Create(uint handle) => new()
    {
        Addr = 0x1_0000_0000UL + handle * 0x10000UL, Size = 8192, Offset = 0, AllocFlags = 0, Alignment = 4096,
        PreferredDomains = 4, Handle = handle, IsImport = 0, NumOfVms = 1,
        VmEntries = { new DrmVmEntry { Addr = 0x1_0000_0000UL + handle * 0x10000UL, Size = 8192, Offset = 0, Flags = 6 } },
    };

    private static DrmBoEntry Import(uint handle) => new()
    {
        Addr = 0x2_0000_0000UL + handle * 0x10000UL, Size = 4096, Offset = 0, AllocFlags = 0, Alignment = 4096,
        PreferredDomains = 4, Handle = handle, IsImport = 1, NumOfVms = 0,
    };

    private static CriuRenderNode Node(int id, uint gpu, params DrmBoEntry[] bos)
    {
        var node = new CriuRenderNode { GpuId = gpu, Id = (uint)id, DrmRenderMinor = 128 + (uint)id, NumOfBos = (ulong)bos.Length };
        node.BoEntries.Add(bos);
        return node;
    }

    private static CriuKfd Kfd(params (uint Gpu, ulong Addr)[] bos)
    {
        var kfd = new CriuKfd { Pid = 1, NumOfGpus = 2, NumOfCpus = 0, NumOfBos = (ulong)bos.Length, NumOfObjects = 0, SharedMemSize = 0, SharedMemMagic = 0, PrivData = Google.Protobuf.ByteString.Empty };
        foreach (var (gpu, addr) in bos) kfd.BoEntries.Add(new KfdBoEntry { Addr = addr, Size = 4096, Offset = 0, AllocFlags = 1, GpuId = gpu, Handle = 0 });
        return kfd;
    }

    private sealed class RecordingOps : IRenderRestoreOps
    {
        public List<string> Calls { get; } = [];
        public uint? FailOn { get; init; }

        public void Create(RenderBoRef bo)
        {
            if (bo.Handle == FailOn) throw new InvalidOperationException($"GEM_CREATE failed for {bo}");
            Calls.Add($"create {bo.NodeId}/{bo.Handle}");
        }

        public void Import(RenderBoRef bo, ImportLink link) => Calls.Add($"import {bo.NodeId}/{bo.Handle}");
    }
}
