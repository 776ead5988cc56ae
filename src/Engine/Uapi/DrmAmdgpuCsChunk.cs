using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_cs_chunk</c>: one chunk of a submission, its data <c>length_dw</c> dwords at <c>chunk_data</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCsChunk
{
    public uint chunk_id;
    public uint length_dw;
    public ulong chunk_data;
}
