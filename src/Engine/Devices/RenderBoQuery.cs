using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices;

/// <summary>
/// What a checkpoint asks of one render-node BO (<see cref="IRenderNode.QueryBos"/>): GEM_OP(GET_MAPPING_INFO) with
/// room for <see cref="Mappings"/>, GEM_MMAP and PRIME_HANDLE_TO_FD, each with its own result as if called alone.
/// </summary>
public sealed class RenderBoQuery(uint handle, int mappingRoom)
{
    public uint Handle { get; } = handle;

    public DrmAmdgpuGemOp MappingInfo = new() { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo, num_entries = (uint)mappingRoom };
    public DrmAmdgpuGemVmEntry[] Mappings { get; } = new DrmAmdgpuGemVmEntry[mappingRoom];
    public int MappingInfoRc;

    public DrmAmdgpuGemMmap Mmap = new() { handle = handle };
    public int MmapRc;

    public DrmPrimeHandle Prime = new() { handle = handle, flags = AmdgpuGem.DrmCloexec };
    public int PrimeRc;
}
