using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Simulation;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>Render-node ioctls of the simulated driver: retry rules, errno, shared memory of imports, 64-bit offsets.</summary>
public sealed class RenderNodeSpecs : IDisposable
{
    private const ulong Page = AmdgpuGem.GpuPageSize;
    private readonly TestSimulator _sim = new(gpus: 2, idSeed: 4);

    public void Dispose() => _sim.Dispose();

    private SimulatorClient Client => _sim.Client;

    private (uint Target, IRenderNode Node) FreshNode(int gpu = 0)
    {
        var target = Client.CreateRestoreTarget();
        return (target, Client.OpenRenderNode(target, _sim.Server.Topology.Gpus[gpu].DrmRenderMinor));
    }

    private static uint Create(IRenderNode node, ulong size, uint domain = AmdgpuGem.DomainVram)
    {
        var create = new DrmAmdgpuGemCreate { bo_size = size, alignment = Page, domains = domain };
        Assert.Equal(0, node.GemCreate(ref create));
        return create.handle;
    }

    private static int Map(IRenderNode node, uint handle, ulong va, ulong offset, ulong size)
    {
        var args = new DrmAmdgpuGemVa { handle = handle, operation = AmdgpuGem.VaOpMap, va_address = va, offset_in_bo = offset, map_size = size, flags = AmdgpuGem.VmPageReadable };
        return node.GemVa(ref args);
    }

    [Fact]
    public void Bo_info_with_too_small_an_array_fills_nothing_and_returns_the_count()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("train", 5, sizeBytes: 8UL << 20));
        var minor = Client.RenderMinorsOpenedBy(pid)[0];
        using var node = Client.OpenRenderNode(pid, minor);
        var sentinel = new DrmAmdgpuCriuBoBucket { gem_handle = 0xabcdef, size = 12345 };
        var small = new[] { sentinel, sentinel };
        var args = new DrmAmdgpuCriuBoInfoArgs { num_bos = 2 };
        Assert.Equal(0, node.CriuBoInfo(ref args, small));
        Assert.True(args.num_bos > 20, $"{args.num_bos} BOs");
        Assert.All(small, b => Assert.Equal(sentinel, b));

        var all = new DrmAmdgpuCriuBoBucket[args.num_bos];
        Assert.Equal(0, node.CriuBoInfo(ref args, all));
        Assert.Equal(all.Length, all.Select(b => b.gem_handle).Distinct().Count());
        Assert.Contains(all, b => (b.flags & AmdgpuCriuFlags.BoIsImport) != 0);

        var mappings = new DrmAmdgpuCriuMappingInfoArgs { gem_handle = all.First(b => (b.flags & AmdgpuCriuFlags.BoIsImport) == 0).gem_handle, num_mappings = 1 };
        var one = new DrmAmdgpuCriuVmBucket[1];
        Assert.Equal(0, node.CriuMappingInfo(ref mappings, one));
        Assert.InRange(mappings.num_mappings, 2u, 3u);
        Assert.Equal(default, one[0]);
    }

    [Fact]
    public void Gem_va_refuses_overlaps_and_ranges_outside_the_bo()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var a = Create(node, 16 * Page);
        var b = Create(node, 16 * Page);
        Assert.Equal(0, Map(node, a, 0x100000, 0, 8 * Page));
        Assert.Equal(Errno.EINVAL, Map(node, b, 0x100000 + 7 * Page, 0, 2 * Page));
        Assert.Equal(Errno.EINVAL, Map(node, b, 0x200000, 8 * Page, 9 * Page));
        Assert.Equal(Errno.EINVAL, Map(node, b, 0x200001, 0, Page));
        Assert.Equal(Errno.ENOENT, Map(node, 999, 0x300000, 0, Page));
        Assert.Equal(0, Map(node, b, 0x100000 + 8 * Page, 0, 16 * Page));
    }

    [Fact]
    public void Change_handle_to_a_taken_handle_is_EEXIST()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var a = Create(node, Page);
        var b = Create(node, Page);
        var change = new DrmGemChangeHandle { handle = a, new_handle = b };
        Assert.Equal(Errno.EEXIST, node.GemChangeHandle(ref change));
        change = new DrmGemChangeHandle { handle = a, new_handle = 77 };
        Assert.Equal(0, node.GemChangeHandle(ref change));
        var mmap = new DrmAmdgpuGemMmap { handle = 77 };
        Assert.Equal(0, node.GemMmap(ref mmap));
        mmap = new DrmAmdgpuGemMmap { handle = a };
        Assert.Equal(Errno.ENOENT, node.GemMmap(ref mmap));
    }

    [Fact]
    public void Import_of_an_unknown_fd_is_EBADF()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var import = new DrmPrimeHandle { fd = 999 };
        Assert.Equal(Errno.EBADF, node.PrimeFdToHandle(ref import));
        import = new DrmPrimeHandle { fd = node.Fd };
        Assert.Equal(Errno.EBADF, node.PrimeFdToHandle(ref import));
    }

    [Fact]
    public void An_import_on_another_gpu_shares_the_exporters_memory()
    {
        const int seed = 4242;
        var (target, node0) = FreshNode(0);
        using var n0 = node0;
        using var n1 = Client.OpenRenderNode(target, _sim.Server.Topology.Gpus[1].DrmRenderMinor);
        var handle = Create(n0, 4 * Page);
        var export = new DrmPrimeHandle { handle = handle };
        Assert.Equal(0, n0.PrimeHandleToFd(ref export));
        var again = new DrmPrimeHandle { handle = handle };
        Assert.Equal(0, n0.PrimeHandleToFd(ref again));
        Assert.NotEqual(export.fd, again.fd);
        Assert.Equal(Client.DmabufInode(export.fd), Client.DmabufInode(again.fd));

        var import = new DrmPrimeHandle { fd = export.fd };
        Assert.Equal(0, n1.PrimeFdToHandle(ref import));
        var twice = new DrmPrimeHandle { fd = again.fd };
        Assert.Equal(0, n1.PrimeFdToHandle(ref twice));
        Assert.Equal(import.handle, twice.handle);

        var data = new byte[4 * Page];
        new Random(seed).NextBytes(data);
        var mmap = new DrmAmdgpuGemMmap { handle = handle };
        Assert.Equal(0, n0.GemMmap(ref mmap));
        using (var w = Client.MapBo(n0.Minor, mmap.addr_ptr, (ulong)data.Length, writable: true)) w.Write(0, data);
        var info = new DrmAmdgpuCriuBoInfoArgs { num_bos = 1 };
        var bucket = new DrmAmdgpuCriuBoBucket[1];
        Assert.Equal(0, n1.CriuBoInfo(ref info, bucket));
        Assert.Equal(AmdgpuCriuFlags.BoIsImport, bucket[0].flags);
        var imported = new DrmAmdgpuGemMmap { handle = import.handle };
        Assert.Equal(0, n1.GemMmap(ref imported));
        Assert.Equal(mmap.addr_ptr, imported.addr_ptr);
        var back = new byte[data.Length];
        using (var r = Client.MapBo(n0.Minor, imported.addr_ptr, bucket[0].size, writable: false)) r.Read(0, back);
        Assert.True(data.AsSpan().SequenceEqual(back), $"seed {seed}: import does not see the exporter's bytes");
        Client.CloseFd(export.fd);
        Client.CloseFd(again.fd);
        Assert.Equal(Errno.EBADF, Assert.Throws<DriverException>(() => Client.CloseFd(export.fd)).ErrorNumber);
    }

    [Fact]
    public void Bos_beyond_4_GiB_of_one_gpu_keep_64_bit_offsets()
    {
        const int seed = 99;
        var (_, node) = FreshNode();
        using var _ = node;
        // 5 GiB that are never touched cost nothing: the memory file is sparse.
        Create(node, 5UL << 30);
        var small = Create(node, 1 << 20, AmdgpuGem.DomainGtt);
        var mmap = new DrmAmdgpuGemMmap { handle = small };
        Assert.Equal(0, node.GemMmap(ref mmap));
        Assert.True(mmap.addr_ptr > 5UL << 30, $"offset 0x{mmap.addr_ptr:x}");

        var data = new byte[1 << 20];
        new Random(seed).NextBytes(data);
        using (var w = Client.MapBo(node.Minor, mmap.addr_ptr, (ulong)data.Length, writable: true)) w.Write(0, data);
        var back = new byte[data.Length];
        using (var r = Client.MapBo(node.Minor, mmap.addr_ptr, (ulong)data.Length, writable: false)) r.Read(0, back);
        Assert.True(data.AsSpan().SequenceEqual(back), $"seed {seed}: bytes at 0x{mmap.addr_ptr:x} differ");
    }

    [Fact]
    public void Map_bo_outside_any_bo_is_refused()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var h = Create(node, 2 * Page);
        var mmap = new DrmAmdgpuGemMmap { handle = h };
        Assert.Equal(0, node.GemMmap(ref mmap));
        var e = Assert.Throws<DriverException>(() => Client.MapBo(node.Minor, mmap.addr_ptr, 3 * Page, writable: false));
        Assert.Equal(Errno.EINVAL, e.ErrorNumber);
        Assert.Contains($"0x{mmap.addr_ptr:x}", e.Message);
    }

    [Fact]
    public void Copy_delay_slows_mappings_of_that_gpu()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var h = Create(node, 4UL << 20);
        var mmap = new DrmAmdgpuGemMmap { handle = h };
        Assert.Equal(0, node.GemMmap(ref mmap));
        Client.SetCopyDelay(_sim.Server.Topology.Gpus[0].GpuId, 25_000);
        using var map = Client.MapBo(node.Minor, mmap.addr_ptr, 4UL << 20, writable: false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        map.Read(0, new byte[4 << 20]);
        Assert.True(clock.ElapsedMilliseconds >= 95, $"4 MiB at 25 ms/MiB took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void A_buffer_imported_by_another_process_outlives_its_exporter()
    {
        var exporter = Client.Spawn(WorkloadRequest.Named("tiny", 61));
        var minor = Client.RenderMinorsOpenedBy(exporter)[0];
        byte[] expected;
        int fd;
        using (var node = Client.OpenRenderNode(exporter, minor))
        {
            var info = new DrmAmdgpuCriuBoInfoArgs { num_bos = 8 };
            var buckets = new DrmAmdgpuCriuBoBucket[8];
            Assert.Equal(0, node.CriuBoInfo(ref info, buckets));
            var own = buckets.Take((int)info.num_bos).First(b => (b.flags & AmdgpuCriuFlags.BoIsImport) == 0);
            expected = new byte[own.size];
            var ownMmap = new DrmAmdgpuGemMmap { handle = own.gem_handle };
            Assert.Equal(0, node.GemMmap(ref ownMmap));
            using (var r = Client.MapBo(minor, ownMmap.addr_ptr, own.size, writable: false)) r.Read(0, expected);
            var export = new DrmPrimeHandle { handle = own.gem_handle };
            Assert.Equal(0, node.PrimeHandleToFd(ref export));
            fd = export.fd;
        }

        var (importer, other) = FreshNode(0);
        using var _ = other;
        var import = new DrmPrimeHandle { fd = fd };
        Assert.Equal(0, other.PrimeFdToHandle(ref import));
        Client.CloseFd(fd);
        Client.Kill(exporter);

        // The importer's handle keeps the memory: same bytes, same place.
        var mine = new DrmAmdgpuCriuBoInfoArgs { num_bos = 1 };
        var bucket = new DrmAmdgpuCriuBoBucket[1];
        Assert.Equal(0, other.CriuBoInfo(ref mine, bucket));
        var mmap = new DrmAmdgpuGemMmap { handle = import.handle };
        Assert.Equal(0, other.GemMmap(ref mmap));
        var bytes = new byte[bucket[0].size];
        using (var r = Client.MapBo(other.Minor, mmap.addr_ptr, bucket[0].size, writable: false)) r.Read(0, bytes);
        Assert.True(expected.AsSpan().SequenceEqual(bytes), "seed 61: the imported buffer changed when its exporter died");
        Assert.Equal(1, Client.State(importer).Bos);

        // Closing the last handle frees it: the range is no longer a BO.
        var close = new DrmGemClose { handle = import.handle };
        Assert.Equal(0, other.GemClose(ref close));
        Assert.Equal(Errno.EINVAL, Assert.Throws<DriverException>(() => Client.MapBo(other.Minor, mmap.addr_ptr, bucket[0].size, false)).ErrorNumber);
    }

    [Fact]
    public void A_request_number_that_does_not_match_the_struct_is_refused()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var create = new DrmAmdgpuGemCreate { bo_size = Page, domains = AmdgpuGem.DomainGtt };
        var wrongSize = IoctlNumber.Encode(IoctlNumber.Read | IoctlNumber.Write, DrmIoctls.Base, DrmIoctls.CommandBase + 0x00, 24);
        Assert.Equal(Errno.EINVAL, Client.RenderIoctl(node.Fd, wrongSize, ref create, []));
        var unknown = IoctlNumber.Encode(IoctlNumber.Read | IoctlNumber.Write, DrmIoctls.Base, 0x3f, Sizes.Of<DrmAmdgpuGemCreate>());
        Assert.Equal(Errno.ENOTTY, Client.RenderIoctl(node.Fd, unknown, ref create, []));
        Assert.Equal(Errno.EBADF, Client.RenderIoctl(12345, DrmIoctls.AmdgpuGemCreate, ref create, []));
    }
}
