using Xunit;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// A checkpoint and a restore driven by hand through the client, with no engine: the op sequence the engine follows.
/// Checkpoint on simulator A, restore on simulator B whose GPUs have other ids and render minors, then both copies
/// run on and must stay byte-identical (equal digests).
/// </summary>
public sealed class HandDrivenCheckpointRestoreSpecs
{
    /// <summary>Everything a checkpoint keeps of one render BO.</summary>
    private sealed record RenderBoImage(DrmAmdgpuGemListHandlesEntry Bucket, DrmAmdgpuGemVmEntry[] Mappings, ulong Inode, byte[]? Contents);

    /// <summary>Everything a checkpoint keeps of one render node: its GPU (by user gpu id) and its BOs.</summary>
    private sealed record RenderNodeImage(uint UserGpuId, List<RenderBoImage> Bos);

    [Theory]
    [InlineData(11UL)]
    [InlineData(12UL)]
    public void Restored_process_on_other_gpus_runs_on_identically(ulong seed)
    {
        using var a = new TestSimulator(gpus: 2, idSeed: 1);
        using var b = new TestSimulator(gpus: 2, idSeed: 2);
        var pid = a.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 24UL << 20));
        a.Client.Run(pid, 3);

        // ---- checkpoint on A --------------------------------------------------------------------------------
        var topologyA = a.Client.Topology();
        using var kfdA = a.Client.OpenKfd(pid);
        var info = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.ProcessInfo };
        Assert.Equal(0, kfdA.CriuOp(ref info, [], [], []));

        var devices = new KfdCriuDeviceBucket[info.num_devices];
        var bos = new KfdCriuBoBucket[info.num_bos];
        var priv = new byte[info.priv_data_size];
        var dump = info with { op = (uint)KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfdA.CriuOp(ref dump, devices, bos, priv));

        // KFD BO contents: VRAM and GTT BOs only, read through a mapping at the bucket's mmap offset.
        uint MinorA(uint userGpuId) => topologyA.Single(g => g.GpuId == devices.Single(d => d.user_gpu_id == userGpuId).actual_gpu_id).DrmRenderMinor;
        var kfdContents = new byte[]?[bos.Length];
        var kfdInodes = new ulong[bos.Length];
        for (var i = 0; i < bos.Length; i++)
        {
            if (!((KfdAllocFlags)bos[i].alloc_flags).HasContents())
            {
                Assert.Equal(uint.MaxValue, bos[i].dmabuf_fd);
                continue;
            }
            kfdContents[i] = Read(a.Client, MinorA(bos[i].gpu_id), bos[i].offset, bos[i].size);
            kfdInodes[i] = a.Client.DmabufInode((int)bos[i].dmabuf_fd);
            a.Client.CloseFd((int)bos[i].dmabuf_fd);
        }

        // Render nodes: every GEM handle with its mappings, contents through GEM_MMAP's offset; imports keep only the inode they share.
        var nodes = new List<RenderNodeImage>();
        foreach (var minor in a.Client.RenderMinorsOpenedBy(pid))
        {
            using var node = a.Client.OpenRenderNode(pid, minor);
            var userGpuId = devices.Single(d => d.actual_gpu_id == topologyA.Single(g => g.DrmRenderMinor == minor).GpuId).user_gpu_id;
            var image = new RenderNodeImage(userGpuId, []);
            foreach (var bucket in BoInfo(node))
            {
                var handle = new DrmPrimeHandle { handle = bucket.gem_handle, flags = AmdgpuGem.DrmCloexec | AmdgpuGem.DrmRdwr };
                Assert.Equal(0, node.PrimeHandleToFd(ref handle));
                var inode = a.Client.DmabufInode(handle.fd);
                a.Client.CloseFd(handle.fd);
                var isImport = (bucket.flags & AmdgpuGem.ListHandlesFlagIsImport) != 0;
                var mmap = new DrmAmdgpuGemMmap { handle = bucket.gem_handle };
                Assert.Equal(0, node.GemMmap(ref mmap));
                image.Bos.Add(new RenderBoImage(bucket, MappingInfo(node, bucket.gem_handle), inode,
                    isImport ? null : Read(a.Client, minor, mmap.addr_ptr, bucket.size)));
            }
            nodes.Add(image);
        }
        Assert.Contains(nodes, n => n.Bos.Any(x => (x.Bucket.flags & AmdgpuGem.ListHandlesFlagIsImport) != 0));
        Assert.All(nodes, n => Assert.Contains(n.Bos, x => x.Mappings.Length >= 2));

        var unpause = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Unpause };
        Assert.Equal(0, kfdA.CriuOp(ref unpause, [], [], []));
        var checkpointed = a.Client.State(pid);

        // ---- restore on B ---------------------------------------------------------------------------------------
        var topologyB = b.Client.Topology();
        Assert.Empty(topologyB.Select(g => g.GpuId).Intersect(topologyA.Select(g => g.GpuId)));
        Assert.Empty(topologyB.Select(g => g.DrmRenderMinor).Intersect(topologyA.Select(g => g.DrmRenderMinor)));
        var target = b.Client.CreateRestoreTarget();
        using var kfdB = b.Client.OpenKfd(target);

        // Identical GPUs: image GPU i runs on B's GPU i.
        var restoreDevices = devices.Select((d, i) => new KfdCriuDeviceBucket { user_gpu_id = d.user_gpu_id, actual_gpu_id = topologyB[i].GpuId }).ToArray();
        uint MinorB(uint userGpuId) => topologyB.Single(g => g.GpuId == restoreDevices.Single(d => d.user_gpu_id == userGpuId).actual_gpu_id).DrmRenderMinor;
        var restoreBos = (KfdCriuBoBucket[])bos.Clone();
        var restore = dump with { op = (uint)KfdCriuOp.Restore, pid = target };
        Assert.Equal(0, kfdB.CriuOp(ref restore, restoreDevices, restoreBos, priv));

        // KFD contents go back through a mapping at restored_offset; the new dmabuf fds feed the render imports.
        var exporterFdByInode = new Dictionary<ulong, int>();
        for (var i = 0; i < restoreBos.Length; i++)
        {
            if (kfdContents[i] is not { } contents) continue;
            Write(b.Client, MinorB(restoreBos[i].gpu_id), restoreBos[i].restored_offset, contents);
            exporterFdByInode[kfdInodes[i]] = (int)restoreBos[i].dmabuf_fd;
        }

        // Render BOs: non-imports first (GEM_CREATE, CHANGE_HANDLE to the original handle, GEM_VA each mapping,
        // contents through GEM_MMAP's offset), then imports (PRIME_FD_TO_HANDLE from their exporter's fd).
        var opened = nodes.ToDictionary(n => n, n => b.Client.OpenRenderNode(target, MinorB(n.UserGpuId)));
        foreach (var (image, node) in opened)
            foreach (var bo in image.Bos.Where(x => x.Contents is not null).OrderBy(x => x.Bucket.gem_handle))
            {
                var create = new DrmAmdgpuGemCreate { bo_size = bo.Bucket.size, alignment = GpuPage, domains = bo.Bucket.preferred_domains, domain_flags = bo.Bucket.alloc_flags };
                Assert.Equal(0, node.GemCreate(ref create));
                ChangeHandle(node, create.handle, bo.Bucket.gem_handle);
                MapAll(node, bo);
                var mmap = new DrmAmdgpuGemMmap { handle = bo.Bucket.gem_handle };
                Assert.Equal(0, node.GemMmap(ref mmap));
                Write(b.Client, node.Minor, mmap.addr_ptr, bo.Contents!);
                var export = new DrmPrimeHandle { handle = bo.Bucket.gem_handle, flags = AmdgpuGem.DrmCloexec | AmdgpuGem.DrmRdwr };
                Assert.Equal(0, node.PrimeHandleToFd(ref export));
                exporterFdByInode[bo.Inode] = export.fd;
            }
        foreach (var (image, node) in opened)
            foreach (var bo in image.Bos.Where(x => x.Contents is null).OrderBy(x => x.Bucket.gem_handle))
            {
                var import = new DrmPrimeHandle { fd = exporterFdByInode[bo.Inode], flags = AmdgpuGem.DrmCloexec | AmdgpuGem.DrmRdwr };
                Assert.Equal(0, node.PrimeFdToHandle(ref import));
                ChangeHandle(node, import.handle, bo.Bucket.gem_handle);
                MapAll(node, bo);
            }
        foreach (var fd in exporterFdByInode.Values) b.Client.CloseFd(fd);
        foreach (var node in opened.Values) node.Dispose();

        Assert.Equal(checkpointed.Digest, b.Client.State(target).Digest);
        var beforeResume = b.Client.Dirty(target, 0).Clock;
        var resume = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Resume, pid = target };
        Assert.Equal(0, kfdB.CriuOp(ref resume, [], [], []));
        // The restore wrote every BO through the memory file: a pre-copy of the restored process starts from all of them.
        var rewritten = b.Client.Dirty(target, beforeResume);
        Assert.Equal(rewritten.TotalBytes, rewritten.DirtyBytes);

        // ---- both run on --------------------------------------------------------------------------------------
        a.Client.Run(pid, 4);
        b.Client.Run(target, 4);
        var original = a.Client.State(pid);
        var restored = b.Client.State(target);
        Assert.Equal(checkpointed.Step + 4, restored.Step);
        Assert.NotEqual(checkpointed.Digest, original.Digest);
        Assert.True(original.Digest == restored.Digest, $"seed {seed}: restored copy diverged: {original.Digest} vs {restored.Digest}");
        Assert.Equal(new ProcessCounters(1, 1, 1, 0, 0), original.Counters);
        Assert.Equal(new ProcessCounters(0, 0, 0, 1, 1), restored.Counters);
    }

    private const ulong GpuPage = AmdgpuGem.GpuPageSize;

    private static byte[] Read(SimulatorClient client, uint minor, ulong offset, ulong size)
    {
        using var map = client.MapBo(minor, offset, size, writable: false);
        var bytes = new byte[size];
        map.Read(0, bytes);
        return bytes;
    }

    private static void Write(SimulatorClient client, uint minor, ulong offset, byte[] contents)
    {
        using var map = client.MapBo(minor, offset, (ulong)contents.Length, writable: true);
        map.Write(0, contents);
    }

    /// <summary>GEM_LIST_HANDLES with the kernel's rule: num_entries 0 (or too small) returns only the count; call again.</summary>
    private static DrmAmdgpuGemListHandlesEntry[] BoInfo(IRenderNode node)
    {
        var args = new DrmAmdgpuGemListHandles { num_entries = 0 };
        Assert.Equal(0, node.GemListHandles(ref args, []));
        var entries = new DrmAmdgpuGemListHandlesEntry[args.num_entries];
        Assert.Equal(0, node.GemListHandles(ref args, entries));
        Assert.Equal(entries.Length, (int)args.num_entries);
        return entries;
    }

    private static DrmAmdgpuGemVmEntry[] MappingInfo(IRenderNode node, uint handle)
    {
        var args = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo, num_entries = 0 };
        Assert.Equal(0, node.GemMappingInfo(ref args, []));
        var entries = new DrmAmdgpuGemVmEntry[args.num_entries];
        Assert.Equal(0, node.GemMappingInfo(ref args, entries));
        return entries;
    }

    private static void ChangeHandle(IRenderNode node, uint from, uint to)
    {
        if (from == to) return;
        var change = new DrmGemChangeHandle { handle = from, new_handle = to };
        Assert.Equal(0, node.GemChangeHandle(ref change));
    }

    private static void MapAll(IRenderNode node, RenderBoImage bo)
    {
        foreach (var m in bo.Mappings)
        {
            var va = new DrmAmdgpuGemVa
            {
                handle = bo.Bucket.gem_handle, operation = AmdgpuGem.VaOpMap, flags = (uint)m.flags,
                va_address = m.addr, offset_in_bo = m.offset, map_size = m.size,
            };
            Assert.Equal(0, node.GemVa(ref va));
        }
    }
}
