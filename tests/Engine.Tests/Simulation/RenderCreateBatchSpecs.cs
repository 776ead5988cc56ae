using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// Render BOs recreated many to a round trip (<see cref="IRenderNode.CreateBos"/>) leave the file exactly as the same
/// calls made one at a time, as the kernel's file takes them, and stop where those would.
/// </summary>
public sealed class RenderCreateBatchSpecs : IDisposable
{
    private const ulong Page = AmdgpuGem.GpuPageSize;
    private readonly TestSimulator _sim = new(gpus: 1, idSeed: 9);

    public void Dispose() => _sim.Dispose();

    private IRenderNode FreshNode() =>
        _sim.Client.OpenRenderNode(_sim.Client.CreateRestoreTarget(), _sim.Server.Topology.Gpus[0].DrmRenderMinor);

    /// <summary>BOs of handles out of order and with gaps (most need GEM_CHANGE_HANDLE), each mapped at its own VA.</summary>
    private static RenderBoCreate[] Creates(params (uint Handle, ulong Va)[] bos) => bos.Select((b, i) => new RenderBoCreate(
        new DrmAmdgpuGemCreate { bo_size = (ulong)(i + 1) * 4 * Page, alignment = Page, domains = AmdgpuGem.DomainVram },
        b.Handle,
        [new DrmAmdgpuGemVa { handle = b.Handle, operation = AmdgpuGem.VaOpMap, flags = AmdgpuGem.VmPageReadable, va_address = b.Va, map_size = 2 * Page }],
        mmap: true, prime: i == 1)).ToArray();

    private static (uint Handle, ulong Size, ulong Va)[] State(IRenderNode node)
    {
        var list = new DrmAmdgpuGemListHandles();
        Assert.Equal(0, node.GemListHandles(ref list, []));
        var entries = new DrmAmdgpuGemListHandlesEntry[list.num_entries];
        Assert.Equal(0, node.GemListHandles(ref list, entries));
        return entries.Select(e =>
        {
            var op = new DrmAmdgpuGemOp { handle = e.gem_handle, op = AmdgpuGem.GemOpGetMappingInfo, num_entries = 4 };
            var maps = new DrmAmdgpuGemVmEntry[4];
            Assert.Equal(0, node.GemMappingInfo(ref op, maps));
            return (e.gem_handle, e.size, op.num_entries == 1 ? maps[0].addr : 0);
        }).OrderBy(s => s.gem_handle).ToArray();
    }

    private static string Outcome(RenderBoCreate c) =>
        $"{c.Handle}: tried {c.Tried}, created {c.Created}, moved {c.Moved}, now {c.HandleNow}, failed {c.FailedCall ?? "-"} {Errno.Name(c.Rc)} #{c.FailedMapping}, mmap {c.Mmap.addr_ptr != 0}, prime {c.Prime.fd > 0}";

    [Fact]
    public void A_batch_leaves_the_file_as_the_calls_one_at_a_time_do()
    {
        using var batched = FreshNode();
        using var single = FreshNode();
        var one = Creates((7, 0x100000), (3, 0x200000), (12, 0x300000), (1, 0x400000));
        var each = Creates((7, 0x100000), (3, 0x200000), (12, 0x300000), (1, 0x400000));

        batched.CreateBos(one);
        ((IRenderNode)new OneAtATime(single)).CreateBos(each);

        Assert.All(one, c => Assert.False(c.Failed, Outcome(c)));
        Assert.Equal(each.Select(Outcome), one.Select(Outcome));
        Assert.Equal([(1u, 16 * Page, 0x400000UL), (3u, 8 * Page, 0x200000UL), (7u, 4 * Page, 0x100000UL), (12u, 12 * Page, 0x300000UL)], State(batched));
        Assert.Equal(State(single), State(batched));
    }

    [Fact]
    public void A_batch_stops_at_the_first_bo_whose_call_fails_as_the_calls_one_at_a_time_do()
    {
        using var batched = FreshNode();
        using var single = FreshNode();
        // The third BO's mapping overlaps the first's: its GEM_VA fails, the BO stays created at its handle, and the
        // fourth is never made.
        var one = Creates((5, 0x100000), (2, 0x200000), (9, 0x101000), (4, 0x400000));
        var each = Creates((5, 0x100000), (2, 0x200000), (9, 0x101000), (4, 0x400000));

        batched.CreateBos(one);
        ((IRenderNode)new OneAtATime(single)).CreateBos(each);

        Assert.Equal(each.Select(Outcome), one.Select(Outcome));
        Assert.Equal((RenderBoCreate.VaCall, Errno.EINVAL, 0), (one[2].FailedCall, one[2].Rc, one[2].FailedMapping));
        Assert.True(one[2].Created && one[2].HandleNow == 9, Outcome(one[2]));
        Assert.False(one[3].Tried, Outcome(one[3]));
        Assert.Equal([2u, 5u, 9u], State(batched).Select(s => s.Handle));
        Assert.Equal(State(single), State(batched));
    }

    /// <summary>The file's calls one by one, as the kernel takes a batch (the interface's own CreateBos).</summary>
    private sealed class OneAtATime(IRenderNode inner) : IRenderNode
    {
        public uint Minor => inner.Minor;
        public int Fd => inner.Fd;
        public int GemCreate(ref DrmAmdgpuGemCreate args) => inner.GemCreate(ref args);
        public int GemClose(ref DrmGemClose args) => inner.GemClose(ref args);
        public int GemMmap(ref DrmAmdgpuGemMmap args) => inner.GemMmap(ref args);
        public int GemVa(ref DrmAmdgpuGemVa args) => inner.GemVa(ref args);
        public int GemChangeHandle(ref DrmGemChangeHandle args) => inner.GemChangeHandle(ref args);
        public int PrimeHandleToFd(ref DrmPrimeHandle args) => inner.PrimeHandleToFd(ref args);
        public int PrimeFdToHandle(ref DrmPrimeHandle args) => inner.PrimeFdToHandle(ref args);
        public int GemListHandles(ref DrmAmdgpuGemListHandles args, Span<DrmAmdgpuGemListHandlesEntry> entries) => inner.GemListHandles(ref args, entries);
        public int GemMappingInfo(ref DrmAmdgpuGemOp args, Span<DrmAmdgpuGemVmEntry> entries) => inner.GemMappingInfo(ref args, entries);
        public void Dispose() { }
    }
}
