using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Reads a render node's objects through GEM_LIST_HANDLES, GEM_OP(GET_MAPPING_INFO), GEM_MMAP and PRIME_HANDLE_TO_FD.</summary>
public static class RenderNodeScanner
{
    private const int MaxRetries = 8;

    /// <summary>The first array sizes tried (CRIU's plugin starts with 8); the kernel says how many it has when they are too small.</summary>
    private const int FirstHandles = 8, FirstMappings = 2;

    /// <summary>The per-BO queries run on this many threads at once (a remote driver answers them in turn, without idling).</summary>
    private const int Threads = 8;

    /// <summary>
    /// Every BO of the file with its mappings, mmap offset and dmabuf identity. The dmabuf fd of each comes back open in
    /// <see cref="RenderBo.DmabufFd"/> (the copy engine reaches a BO through it); the caller closes them.
    /// </summary>
    public static RenderNodeSnapshot Scan(IGpuDriver driver, IRenderNode node, uint gpuId)
    {
        var device = $"renderD{node.Minor}";
        var entries = ListHandles(node, device);
        var mappings = new DrmAmdgpuGemVmEntry[entries.Length][];
        var offsets = new ulong[entries.Length];
        var fds = new int[entries.Length];
        Array.Fill(fds, -1);
        try
        {
            // Each BO's queries are independent ioctls on the same file: several threads keep them coming.
            Parallel.For(0, entries.Length, new ParallelOptions { MaxDegreeOfParallelism = Threads }, i =>
            {
                var handle = entries[i].gem_handle;
                mappings[i] = ListMappings(node, handle, device);
                var mmap = new DrmAmdgpuGemMmap { handle = handle };
                var rc = node.GemMmap(ref mmap);
                // EPERM: created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS, so it has no CPU mapping; the copy engine moves it.
                if (rc != Errno.EPERM) rc.Check("GEM_MMAP", device, $"handle {handle}");
                offsets[i] = rc == 0 ? mmap.addr_ptr : 0;
                var prime = new DrmPrimeHandle { handle = handle, flags = AmdgpuGem.DrmCloexec };
                node.PrimeHandleToFd(ref prime).Check("PRIME_HANDLE_TO_FD", device, $"handle {handle}");
                fds[i] = prime.fd;
            });
            var inodes = driver.DmabufInodes(fds);
            var bos = new List<RenderBo>(entries.Length);
            for (var i = 0; i < entries.Length; i++) bos.Add(new RenderBo(entries[i], offsets[i], mappings[i], inodes[i]) { DmabufFd = fds[i] });
            return new RenderNodeSnapshot(node.Minor, gpuId, bos);
        }
        catch (Exception e)
        {
            var open = fds.Where(fd => fd >= 0).ToList();
            if (open.Count > 0) driver.CloseFds(open);
            // The first BO that failed, as a sequential scan would have reported it.
            if (e is AggregateException { InnerExceptions.Count: > 0 } many) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(many.InnerExceptions[0]).Throw();
            throw;
        }
    }

    /// <summary>GEM_LIST_HANDLES, again with a larger array while the kernel reports more handles than fit.</summary>
    private static DrmAmdgpuGemListHandlesEntry[] ListHandles(IRenderNode node, string device)
    {
        var entries = new DrmAmdgpuGemListHandlesEntry[FirstHandles];
        for (var attempt = 0; attempt < MaxRetries; attempt++)
        {
            var args = new DrmAmdgpuGemListHandles { num_entries = (uint)entries.Length };
            node.GemListHandles(ref args, entries).Check("GEM_LIST_HANDLES", device);
            if (args.num_entries <= entries.Length) return entries[..(int)args.num_entries];
            entries = new DrmAmdgpuGemListHandlesEntry[args.num_entries];
        }
        throw new DriverException(Errno.EAGAIN, "GEM_LIST_HANDLES", device, detail: "the handle count kept growing");
    }

    private static DrmAmdgpuGemVmEntry[] ListMappings(IRenderNode node, uint handle, string device)
    {
        var entries = new DrmAmdgpuGemVmEntry[FirstMappings];
        for (var attempt = 0; attempt < MaxRetries; attempt++)
        {
            var args = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo, num_entries = (uint)entries.Length };
            node.GemMappingInfo(ref args, entries).Check("GEM_OP(GET_MAPPING_INFO)", device, $"handle {handle}");
            if (args.num_entries <= entries.Length) return entries[..(int)args.num_entries];
            entries = new DrmAmdgpuGemVmEntry[args.num_entries];
        }
        throw new DriverException(Errno.EAGAIN, "GEM_OP(GET_MAPPING_INFO)", device, $"handle {handle}", "the mapping count kept growing");
    }
}
