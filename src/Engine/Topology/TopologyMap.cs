namespace Gpuckpt.Engine.Topology;

/// <summary>
/// Where each image GPU runs after restore: user_gpu_id (the gpu_id saved in the image) → local GPU,
/// and which local XGMI hive each image hive went to.
/// </summary>
public sealed record TopologyMap(IReadOnlyDictionary<uint, GpuNode> ByUserGpuId, IReadOnlyDictionary<ulong, ulong> Hives)
{
    public GpuNode this[uint userGpuId] => ByUserGpuId.TryGetValue(userGpuId, out var local)
        ? local
        : throw new KeyNotFoundException($"image GPU 0x{userGpuId:x} is not in the topology map");

    /// <summary>The local gpu_id for kfd_criu_device_bucket.actual_gpu_id.</summary>
    public uint ActualGpuId(uint userGpuId) => this[userGpuId].GpuId;
}
