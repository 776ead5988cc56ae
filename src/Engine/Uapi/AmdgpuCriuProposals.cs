using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

// Design history: the amdgpu render-node CRIU interfaces proposed in the seed documents, which Linux did not merge.
// Mainline has GEM_LIST_HANDLES, GEM_OP(GET_MAPPING_INFO) and GEM_CHANGE_HANDLE instead (DrmAmdgpuGemListHandles, DrmAmdgpuGemOp, DrmGemChangeHandle). The ABI
// catalog keeps these layouts, proven against their declarations, so the difference stays visible: BO_INFO has the
// request number of GEM_LIST_HANDLES but 32-byte entries. The engine never issues them.

/// <summary>The proposals' flags and request numbers.</summary>
public static class AmdgpuCriuProposals
{
    public const uint BoFlagIsImport = 1u << 0;
    public const uint BoFlagSkip = 1u << 1;

    /// <summary>Seed 000's single CRIU op.</summary>
    public static readonly uint CriuOp = IoctlNumber.Iowr<DrmAmdgpuCriuArgs>(DrmIoctls.Base, DrmIoctls.CommandBase + 0x19);

    /// <summary>The v9 series' BO_INFO: the same number as mainline's GEM_LIST_HANDLES (equal 16-byte argument struct).</summary>
    public static readonly uint CriuBoInfo = IoctlNumber.Iowr<DrmAmdgpuCriuBoInfoArgs>(DrmIoctls.Base, DrmIoctls.CommandBase + 0x19);

    public static readonly uint CriuMappingInfo = IoctlNumber.Iowr<DrmAmdgpuCriuMappingInfoArgs>(DrmIoctls.Base, DrmIoctls.CommandBase + 0x20);
}
