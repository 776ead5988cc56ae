using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
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
    public void List_handles_and_mapping_info_with_too_small_an_array_fill_nothing_and_return_the_count()
    {
        var pid = Client.Spawn(WorkloadRequest.Named("train", 5, sizeBytes: 8UL << 20));
        var minor = Client.RenderMinorsOpenedBy(pid)[0];
        using var node = Client.OpenRenderNode(pid, minor);
        var sentinel = new DrmAmdgpuGemListHandlesEntry { gem_handle = 0xabcdef, size = 12345, alignment = 77 };
        var small = new[] { sentinel, sentinel };
        var args = new DrmAmdgpuGemListHandles { num_entries = 2 };
        Assert.Equal(0, node.GemListHandles(ref args, small));
        Assert.True(args.num_entries > 20, $"{args.num_entries} BOs");
        Assert.All(small, b => Assert.Equal(sentinel, b));

        var all = new DrmAmdgpuGemListHandlesEntry[args.num_entries];
        Assert.Equal(0, node.GemListHandles(ref args, all));
        Assert.Equal(all.Length, all.Select(b => b.gem_handle).Distinct().Count());
        Assert.Contains(all, b => (b.flags & AmdgpuGem.ListHandlesFlagIsImport) != 0);
        // train asks for no alignment, a page, 64 KiB and 2 MiB; the kernel reports page_alignment in pages.
        Assert.Equal(new ulong[] { 0, 1, 16, 512 }, all.Where(b => (b.flags & AmdgpuGem.ListHandlesFlagIsImport) == 0).Select(b => b.alignment).Distinct().Order());

        var handle = all.First(b => (b.flags & AmdgpuGem.ListHandlesFlagIsImport) == 0).gem_handle;
        var mappings = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo, num_entries = 1 };
        var one = new DrmAmdgpuGemVmEntry[1];
        Assert.Equal(0, node.GemMappingInfo(ref mappings, one));
        Assert.InRange(mappings.num_entries, 2u, 3u);
        Assert.Equal(default, one[0]);

        var every = new DrmAmdgpuGemVmEntry[mappings.num_entries];
        Assert.Equal(0, node.GemMappingInfo(ref mappings, every));
        Assert.All(every, m => Assert.True(m.size > 0 && m.addr % Page == 0 && m.size % Page == 0, $"mapping 0x{m.addr:x}+0x{m.size:x} not in bytes of whole pages"));
    }

    [Fact]
    public void Gem_op_refuses_non_zero_padding_and_ops_it_does_not_know()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var handle = Create(node, 4 * Page);
        var padded = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo, padding = 1 };
        Assert.Equal(Errno.EINVAL, node.GemMappingInfo(ref padded, []));
        var missing = new DrmAmdgpuGemOp { handle = handle + 100, op = AmdgpuGem.GemOpGetMappingInfo };
        Assert.Equal(Errno.ENOENT, node.GemMappingInfo(ref missing, []));
        var count = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo };
        Assert.Equal(0, node.GemMappingInfo(ref count, []));
        Assert.Equal(0u, count.num_entries);
    }

    /// <summary>drm_amdgpu_gem_va as Debian 12's headers declare it: the 40 bytes before mainline grew it.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct OlderGemVa
    {
        public uint handle, _pad, operation, flags;
        public ulong va_address, offset_in_bo, map_size;
    }

    [Fact]
    public void A_gem_va_from_older_headers_is_zero_extended_and_a_grown_one_with_syncobjs_is_refused()
    {
        var (_, node) = FreshNode();
        using var _ = node;
        var handle = Create(node, 8 * Page);
        var older = new OlderGemVa { handle = handle, operation = AmdgpuGem.VaOpMap, flags = AmdgpuGem.VmPageReadable, va_address = 0x200000, map_size = 4 * Page };
        var request = IoctlNumber.Encode(IoctlNumber.Write, DrmIoctls.Base, DrmIoctls.CommandBase + 0x08, Sizes.Of<OlderGemVa>());
        Assert.Equal(40, IoctlNumber.Size(request));
        Assert.Equal(0, Client.RenderIoctl(node.Fd, request, ref older, []));
        var info = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo, num_entries = 1 };
        var mapped = new DrmAmdgpuGemVmEntry[1];
        Assert.Equal(0, node.GemMappingInfo(ref info, mapped));
        Assert.Equal(new DrmAmdgpuGemVmEntry { addr = 0x200000, size = 4 * Page, offset = 0, flags = AmdgpuGem.VmPageReadable }, mapped[0]);

        var fenced = new DrmAmdgpuGemVa { handle = handle, operation = AmdgpuGem.VaOpMap, va_address = 0x400000, map_size = Page, num_syncobj_handles = 1 };
        Assert.Equal(Errno.EINVAL, node.GemVa(ref fenced));
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
        // A range that starts below a mapping and runs into it overlaps it; one that ends just below it does not.
        Assert.Equal(Errno.EINVAL, Map(node, b, 0x100000 - 2 * Page, 0, 4 * Page));
        Assert.Equal(0, Map(node, b, 0x100000 - 2 * Page, 0, 2 * Page));
        Assert.Equal(0, Map(node, b, 0x100000 + 8 * Page, 0, 16 * Page));
        // Between the two mappings of b and the one of a, nothing is free any more.
        Assert.Equal(Errno.EINVAL, Map(node, a, 0x100000 + 12 * Page, 0, Page));
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
        var info = new DrmAmdgpuGemListHandles { num_entries = 1 };
        var bucket = new DrmAmdgpuGemListHandlesEntry[1];
        Assert.Equal(0, n1.GemListHandles(ref info, bucket));
        Assert.Equal(AmdgpuGem.ListHandlesFlagIsImport, bucket[0].flags);
        Assert.Equal(mmap.addr_ptr, MmapOffset(n1, bucket[0].gem_handle));
        var back = new byte[data.Length];
        using (var r = Client.MapBo(n0.Minor, MmapOffset(n1, bucket[0].gem_handle), bucket[0].size, writable: false)) r.Read(0, back);
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
    public void A_bo_maps_only_through_a_file_that_holds_it_and_only_at_the_offset_gem_mmap_gave()
    {
        const int seed = 47;
        var (_, owner) = FreshNode();
        var (_, stranger) = FreshNode();
        using var o = owner;
        using var s = stranger;
        Create(stranger, 2 * Page); // the stranger's own BO on the same GPU: its file is a live DRM file, not an empty one
        var h = Create(owner, 3 * Page);
        var offset = MmapOffset(owner, h);
        var data = new byte[3 * Page];
        new Random(seed).NextBytes(data);
        using (var w = Client.MapThrough(owner, offset, (ulong)data.Length, writable: true)) w.Write(0, data);

        // drm_gem_mmap: a file not allowed on the BO's offset node gets EACCES, naming the offset.
        var wrongFile = Assert.Throws<DriverException>(() => Client.MapThrough(stranger, offset, 3 * Page, writable: false));
        Assert.Equal(Errno.EACCES, wrongFile.ErrorNumber);
        Assert.Contains($"0x{offset:x}", wrongFile.Message);
        // An offset that is not where a BO starts is unknown to the offset manager: EINVAL, even inside the BO.
        Assert.Equal(Errno.EINVAL, Assert.Throws<DriverException>(() => Client.MapThrough(owner, offset + Page, Page, writable: false)).ErrorNumber);
        Assert.Equal(Errno.EINVAL, Assert.Throws<DriverException>(() => Client.MapThrough(owner, offset, 4 * Page, writable: false)).ErrorNumber);

        var back = new byte[data.Length];
        using (var r = Client.MapThrough(owner, offset, (ulong)back.Length, writable: false)) r.Read(0, back);
        Assert.True(data.AsSpan().SequenceEqual(back), $"seed {seed}: bytes at 0x{offset:x} differ");

        // Importing the BO allows the other file on it, as drm_gem_handle_create does.
        var export = new DrmPrimeHandle { handle = h };
        Assert.Equal(0, owner.PrimeHandleToFd(ref export));
        var import = new DrmPrimeHandle { fd = export.fd };
        Assert.Equal(0, stranger.PrimeFdToHandle(ref import));
        Client.CloseFd(export.fd);
        using (var r = Client.MapThrough(stranger, offset, (ulong)back.Length, writable: false)) r.Read(0, back);
        Assert.True(data.AsSpan().SequenceEqual(back), $"seed {seed}: the import reads other bytes");
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
            var info = new DrmAmdgpuGemListHandles { num_entries = 8 };
            var buckets = new DrmAmdgpuGemListHandlesEntry[8];
            Assert.Equal(0, node.GemListHandles(ref info, buckets));
            var own = buckets.Take((int)info.num_entries).First(b => (b.flags & AmdgpuGem.ListHandlesFlagIsImport) == 0);
            expected = new byte[own.size];
            using (var r = Client.MapBo(minor, MmapOffset(node, own.gem_handle), own.size, writable: false)) r.Read(0, expected);
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
        var mine = new DrmAmdgpuGemListHandles { num_entries = 1 };
        var bucket = new DrmAmdgpuGemListHandlesEntry[1];
        Assert.Equal(0, other.GemListHandles(ref mine, bucket));
        var bytes = new byte[bucket[0].size];
        var offset = MmapOffset(other, bucket[0].gem_handle);
        using (var r = Client.MapBo(other.Minor, offset, bucket[0].size, writable: false)) r.Read(0, bytes);
        Assert.True(expected.AsSpan().SequenceEqual(bytes), "seed 61: the imported buffer changed when its exporter died");
        Assert.Equal(1, Client.State(importer).Bos);

        // Closing the last handle frees it: the range is no longer a BO.
        var close = new DrmGemClose { handle = import.handle };
        Assert.Equal(0, other.GemClose(ref close));
        Assert.Equal(Errno.EINVAL, Assert.Throws<DriverException>(() => Client.MapBo(other.Minor, offset, bucket[0].size, false)).ErrorNumber);
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

    private static ulong MmapOffset(Gpuckpt.Engine.Devices.IRenderNode node, uint handle)
    {
        var mmap = new DrmAmdgpuGemMmap { handle = handle };
        Assert.Equal(0, node.GemMmap(ref mmap));
        return mmap.addr_ptr;
    }
}
