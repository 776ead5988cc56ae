using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// A render file a restored task opened through the bridge. Its ioctls run here on this process's copy (one open file,
/// so one handle namespace and VM); <see cref="Fd"/> is the task's own fd number, which KFD RESTORE, issued in the
/// task, is given as the GPU's drm_fd.
/// </summary>
internal sealed class BridgeRenderFile(RenderNodeFile local, int slot, int remoteFd) : IRenderNode
{
    public uint Minor => local.Minor;

    /// <summary>The task's fd number of this file.</summary>
    public int Fd { get; } = remoteFd;

    /// <summary>The bridge's slot that holds the task's fd.</summary>
    public int Slot { get; } = slot;

    /// <summary>This process's copy of the file (BO mappings go through it).</summary>
    public int LocalFd => local.Fd;

    public string Device => local.Device;

    public bool Disposed { get; private set; }

    public int GemCreate(ref DrmAmdgpuGemCreate args) => local.GemCreate(ref args);
    public int GemClose(ref DrmGemClose args) => local.GemClose(ref args);
    public int GemMmap(ref DrmAmdgpuGemMmap args) => local.GemMmap(ref args);
    public int GemVa(ref DrmAmdgpuGemVa args) => local.GemVa(ref args);
    public int GemChangeHandle(ref DrmGemChangeHandle args) => local.GemChangeHandle(ref args);
    public int PrimeHandleToFd(ref DrmPrimeHandle args) => local.PrimeHandleToFd(ref args);
    public int PrimeFdToHandle(ref DrmPrimeHandle args) => local.PrimeFdToHandle(ref args);
    public int GemListHandles(ref DrmAmdgpuGemListHandles args, Span<DrmAmdgpuGemListHandlesEntry> entries) => local.GemListHandles(ref args, entries);
    public int GemMappingInfo(ref DrmAmdgpuGemOp args, Span<DrmAmdgpuGemVmEntry> entries) => local.GemMappingInfo(ref args, entries);

    public void Dispose()
    {
        Disposed = true;
        local.Dispose();
    }
}
