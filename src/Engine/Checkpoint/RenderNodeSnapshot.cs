using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>One GEM object of a render node as checkpointed: its bucket, mmap offset, VM mappings, and its buffer's identity.</summary>
public sealed record RenderBo(DrmAmdgpuCriuBoBucket Bucket, ulong MmapOffset, DrmAmdgpuCriuVmBucket[] Mappings, ulong DmabufInode)
{
    public uint Handle => Bucket.gem_handle;
    public bool IsImport => (Bucket.flags & AmdgpuCriuFlags.BoIsImport) != 0;
}

/// <summary>Every GEM object a process has on one render node.</summary>
public sealed record RenderNodeSnapshot(uint Minor, uint GpuId, IReadOnlyList<RenderBo> Bos);

/// <summary>Reads a render node's objects through CRIU_BO_INFO, CRIU_MAPPING_INFO, GEM_MMAP and PRIME_HANDLE_TO_FD.</summary>
public static class RenderNodeScanner
{
    private const int MaxRetries = 8;

    public static RenderNodeSnapshot Scan(IGpuDriver driver, IRenderNode node, uint gpuId)
    {
        var device = $"renderD{node.Minor}";
        var buckets = ListBos(node, device);
        var bos = new List<RenderBo>(buckets.Length);
        foreach (var bucket in buckets)
        {
            var mappings = ListMappings(node, bucket.gem_handle, device);
            var mmap = new DrmAmdgpuGemMmap { handle = bucket.gem_handle };
            node.GemMmap(ref mmap).Check("GEM_MMAP", device, $"handle {bucket.gem_handle}");
            var prime = new DrmPrimeHandle { handle = bucket.gem_handle, flags = AmdgpuGem.DrmCloexec };
            node.PrimeHandleToFd(ref prime).Check("PRIME_HANDLE_TO_FD", device, $"handle {bucket.gem_handle}");
            ulong inode;
            try
            {
                inode = driver.DmabufInode(prime.fd);
            }
            finally
            {
                driver.CloseFd(prime.fd);
            }
            bos.Add(new RenderBo(bucket, mmap.addr_ptr, mappings, inode));
        }
        return new RenderNodeSnapshot(node.Minor, gpuId, bos);
    }

    private static DrmAmdgpuCriuBoBucket[] ListBos(IRenderNode node, string device)
    {
        var buckets = Array.Empty<DrmAmdgpuCriuBoBucket>();
        for (var attempt = 0; attempt < MaxRetries; attempt++)
        {
            var args = new DrmAmdgpuCriuBoInfoArgs { num_bos = (uint)buckets.Length };
            node.CriuBoInfo(ref args, buckets).Check("CRIU_BO_INFO", device);
            if (args.num_bos <= buckets.Length) return buckets[..(int)args.num_bos];
            buckets = new DrmAmdgpuCriuBoBucket[args.num_bos];
        }
        throw new DriverException(Errno.EAGAIN, "CRIU_BO_INFO", device, detail: "the BO count kept changing");
    }

    private static DrmAmdgpuCriuVmBucket[] ListMappings(IRenderNode node, uint handle, string device)
    {
        var buckets = new DrmAmdgpuCriuVmBucket[4];
        for (var attempt = 0; attempt < MaxRetries; attempt++)
        {
            var args = new DrmAmdgpuCriuMappingInfoArgs { gem_handle = handle, num_mappings = (uint)buckets.Length };
            node.CriuMappingInfo(ref args, buckets).Check("CRIU_MAPPING_INFO", device, $"handle {handle}");
            if (args.num_mappings <= buckets.Length) return buckets[..(int)args.num_mappings];
            buckets = new DrmAmdgpuCriuVmBucket[args.num_mappings];
        }
        throw new DriverException(Errno.EAGAIN, "CRIU_MAPPING_INFO", device, $"handle {handle}", "the mapping count kept changing");
    }
}
