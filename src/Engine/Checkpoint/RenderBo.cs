using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// One GEM object of a render node as checkpointed: its list entry, mmap offset (0 where the BO has no CPU mapping),
/// VM mappings, its buffer's identity, and the dmabuf fd it was exported as (its scanner's caller closes it).
/// </summary>
public sealed record RenderBo(DrmAmdgpuGemListHandlesEntry Entry, ulong MmapOffset, DrmAmdgpuGemVmEntry[] Mappings, ulong DmabufInode)
{
    public int DmabufFd { get; init; } = -1;

    public uint Handle => Entry.gem_handle;
    public bool IsImport => (Entry.flags & AmdgpuGem.ListHandlesFlagIsImport) != 0;
}
