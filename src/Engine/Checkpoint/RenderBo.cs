using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>One GEM object of a render node as checkpointed: its list entry, mmap offset, VM mappings, and its buffer's identity.</summary>
public sealed record RenderBo(DrmAmdgpuGemListHandlesEntry Entry, ulong MmapOffset, DrmAmdgpuGemVmEntry[] Mappings, ulong DmabufInode)
{
    public uint Handle => Entry.gem_handle;
    public bool IsImport => (Entry.flags & AmdgpuGem.ListHandlesFlagIsImport) != 0;
}
