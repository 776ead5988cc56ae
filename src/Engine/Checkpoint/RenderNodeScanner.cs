using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Reads a render node's objects through GEM_LIST_HANDLES, GEM_OP(GET_MAPPING_INFO), GEM_MMAP and PRIME_HANDLE_TO_FD.</summary>
public static class RenderNodeScanner
{
    private const int MaxRetries = 8;

    /// <summary>The first array sizes tried (CRIU's plugin starts with 8); the kernel says how many it has when they are too small.</summary>
    private const int FirstHandles = 8, FirstMappings = 2;

    /// <summary>
    /// The per-BO queries go to the driver this many BOs at a time (<see cref="IRenderNode.QueryBos"/>), on this many
    /// threads at once (a remote driver answers one batch while the next is on its way).
    /// </summary>
    private const int Batch = 512, Threads = 4;

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
            // Each BO's queries are independent ioctls on the same file: batches of them keep the driver busy.
            var batches = (entries.Length + Batch - 1) / Batch;
            Parallel.For(0, batches, new ParallelOptions { MaxDegreeOfParallelism = Threads }, b =>
            {
                var first = b * Batch;
                var queries = new List<RenderBoQuery>(Math.Min(Batch, entries.Length - first));
                for (var i = first; i < Math.Min(first + Batch, entries.Length); i++) queries.Add(new RenderBoQuery(entries[i].gem_handle, FirstMappings));
                node.QueryBos(queries);
                // Every fd opened is recorded before any check, so that a failure closes them all.
                for (var k = 0; k < queries.Count; k++)
                    if (queries[k].PrimeRc == 0) fds[first + k] = queries[k].Prime.fd;
                for (var k = 0; k < queries.Count; k++)
                {
                    var q = queries[k];
                    var handle = q.Handle;
                    q.MappingInfoRc.Check("GEM_OP(GET_MAPPING_INFO)", device, $"handle {handle}");
                    // More mappings than the first array held: asked again alone, with room for them all.
                    mappings[first + k] = q.MappingInfo.num_entries <= q.Mappings.Length
                        ? q.Mappings[..(int)q.MappingInfo.num_entries]
                        : ListMappings(node, handle, device);
                    // EPERM: created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS, so it has no CPU mapping; the copy engine moves it.
                    if (q.MmapRc != Errno.EPERM) q.MmapRc.Check("GEM_MMAP", device, $"handle {handle}");
                    offsets[first + k] = q.MmapRc == 0 ? q.Mmap.addr_ptr : 0;
                    q.PrimeRc.Check("PRIME_HANDLE_TO_FD", device, $"handle {handle}");
                }
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
