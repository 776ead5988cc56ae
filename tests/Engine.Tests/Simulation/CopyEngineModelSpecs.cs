using System.Buffers.Binary;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Protocol;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// VRAM the CPU may not map, and the copy engine that moves it: GEM_MMAP and mmap of a BO created with
/// AMDGPU_GEM_CREATE_NO_CPU_ACCESS get EPERM as amdgpu's do; SDMA COPY_LINEAR packets in an IB move bytes between the GPU
/// VAs of the file's VM, and a packet that touches an address no BO is mapped at fails its job.
/// </summary>
public sealed class CopyEngineModelSpecs : IDisposable
{
    private const ulong Page = AmdgpuGem.GpuPageSize;
    private readonly TestSimulator _sim = new(gpus: 1, idSeed: 31);

    public void Dispose() => _sim.Dispose();

    private SimulatorClient Client => _sim.Client;

    private IRenderNode FreshNode() => Client.OpenRenderNode(Client.CreateRestoreTarget(), _sim.Server.Topology.Gpus[0].DrmRenderMinor);

    private static uint Create(IRenderNode node, ulong size, uint domain, ulong flags = 0)
    {
        var create = new DrmAmdgpuGemCreate { bo_size = size, alignment = Page, domains = domain, domain_flags = flags };
        Assert.Equal(0, node.GemCreate(ref create));
        return create.handle;
    }

    private static void Map(IRenderNode node, uint handle, ulong va, ulong size)
    {
        var args = new DrmAmdgpuGemVa { handle = handle, operation = AmdgpuGem.VaOpMap, va_address = va, map_size = size, flags = AmdgpuGem.VmPageReadable | AmdgpuGem.VmPageWriteable };
        Assert.Equal(0, node.GemVa(ref args));
    }

    private static ulong MmapOffset(IRenderNode node, uint handle)
    {
        var mmap = new DrmAmdgpuGemMmap { handle = handle };
        Assert.Equal(0, node.GemMmap(ref mmap));
        return mmap.addr_ptr;
    }

    [Fact]
    public void A_vram_bo_created_without_cpu_access_is_refused_to_gem_mmap_and_to_mmap_with_eperm()
    {
        using var node = FreshNode();
        var hidden = Create(node, 16 * Page, AmdgpuGem.DomainVram, AmdgpuGem.CreateNoCpuAccess);
        var visible = Create(node, 16 * Page, AmdgpuGem.DomainVram);

        var refused = new DrmAmdgpuGemMmap { handle = hidden };
        Assert.Equal(Errno.EPERM, node.GemMmap(ref refused));
        using (Client.MapThrough(node, MmapOffset(node, visible), 16 * Page, writable: false)) { }

        // Its place in device memory is known (the BO after the visible one); mmap there is refused all the same.
        var export = new DrmPrimeHandle { handle = hidden };
        Assert.Equal(0, node.PrimeHandleToFd(ref export));
        var other = FreshNode();
        using (other)
        {
            var import = new DrmPrimeHandle { fd = export.fd };
            Assert.Equal(0, other.PrimeFdToHandle(ref import));
            var imported = new DrmAmdgpuGemMmap { handle = import.handle };
            Assert.Equal(Errno.EPERM, other.GemMmap(ref imported));
        }
        Client.CloseFd(export.fd);
    }

    [Fact]
    public void Copy_linear_packets_move_bytes_between_gpu_vas_and_an_unmapped_address_fails_the_job()
    {
        var seed = TestSeed.Fresh();
        using var node = FreshNode();
        var hidden = Create(node, 64 * Page, AmdgpuGem.DomainVram, AmdgpuGem.CreateNoCpuAccess);
        var staging = Create(node, 64 * Page, AmdgpuGem.DomainGtt);
        var ib = Create(node, Page, AmdgpuGem.DomainGtt);
        const ulong hiddenVa = 0x1_0000_0000, stagingVa = 0x2_0000_0000, ibVa = 0x3_0000_0000;
        Map(node, hidden, hiddenVa, 64 * Page);
        Map(node, staging, stagingVa, 64 * Page);
        Map(node, ib, ibVa, Page);
        var ctx = new DrmAmdgpuCtx { op = AmdgpuCs.CtxOpAllocCtx };
        Assert.Equal(0, Client.RenderIoctl(node.Fd, DrmIoctls.AmdgpuCtx, ref ctx, []));
        var ctxId = ctx.AllocatedCtxId;

        var data = new byte[64 * Page];
        new Random(seed).NextBytes(data);
        using (var w = Client.MapThrough(node, MmapOffset(node, staging), 64 * Page, writable: true)) w.Write(0, data);

        // Staging to VRAM, then VRAM back to staging's second half shifted by a page: the bytes went through VRAM.
        Submit(node, ctxId, ib, [(stagingVa, hiddenVa, 32 * Page)]);
        Submit(node, ctxId, ib, [(hiddenVa + Page, stagingVa + 32 * Page, 31 * Page)]);
        var back = new byte[31 * Page];
        using (var r = Client.MapThrough(node, MmapOffset(node, staging), 64 * Page, writable: false)) r.Read(32 * Page, back);
        Assert.True(data.AsSpan((int)Page, back.Length).SequenceEqual(back), $"seed {seed}: the copy through VRAM changed the bytes");

        // A copy from where nothing is mapped: the CS is taken, its job faults, WAIT_CS says so naming the address.
        var fault = Assert.Throws<DriverException>(() => Submit(node, ctxId, ib, [(0x7_0000_0000, stagingVa, Page)]));
        Assert.Equal(Errno.ECANCELED, fault.ErrorNumber);
        Assert.Contains("0x700000000", fault.Message);
    }

    /// <summary>Writes one IB of COPY_LINEAR packets, submits it to SDMA and waits for it; throws with the errno of the first call that fails.</summary>
    private void Submit(IRenderNode node, uint ctx, uint ibHandle, IReadOnlyList<(ulong Src, ulong Dst, ulong Bytes)> copies)
    {
        var dwords = new List<uint>();
        foreach (var (src, dst, bytes) in copies)
            dwords.AddRange([AmdgpuCs.SdmaHeader(AmdgpuCs.SdmaOpCopy, AmdgpuCs.SdmaSubOpCopyLinear), (uint)(bytes - 1), 0, (uint)src, (uint)(src >> 32), (uint)dst, (uint)(dst >> 32)]);
        while (dwords.Count % AmdgpuCs.IbAlignDwords != 0) dwords.Add(AmdgpuCs.SdmaHeader(AmdgpuCs.SdmaOpNop, 0));
        var code = new byte[dwords.Count * 4];
        for (var i = 0; i < dwords.Count; i++) BinaryPrimitives.WriteUInt32LittleEndian(code.AsSpan(i * 4), dwords[i]);
        using (var w = Client.MapThrough(node, MmapOffset(node, ibHandle), Page, writable: true)) w.Write(0, code);

        var chunks = RequestHandler.SubmittedChunksWire([new DrmAmdgpuCsChunkIb { va_start = 0x3_0000_0000, ib_bytes = (uint)code.Length, ip_type = AmdgpuCs.HwIpDma }], [ibHandle]);
        var cs = new DrmAmdgpuCs { ctx_id = ctx, num_chunks = 2 };
        Assert.Equal(0, Client.RenderIoctl(node.Fd, DrmIoctls.AmdgpuCs, ref cs, chunks));
        var wait = new DrmAmdgpuWaitCs { handle = cs.Handle, timeout = ulong.MaxValue, ip_type = AmdgpuCs.HwIpDma, ctx_id = ctx };
        var rc = Client.RenderIoctl(node.Fd, DrmIoctls.AmdgpuWaitCs, ref wait, []);
        if (rc != 0) throw new DriverException(rc, "AMDGPU_WAIT_CS", "test", detail: SimulatorClient.LastErrorDetail);
        Assert.Equal(0UL, wait.Status);
    }
}
