using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Devices;

/// <summary>A process's open render node (/dev/dri/renderD{minor}). Every call returns 0 or an errno.</summary>
public interface IRenderNode : IDisposable
{
    uint Minor { get; }

    /// <summary>The fd number of this open file, as KFD RESTORE expects in kfd_criu_device_bucket.drm_fd.</summary>
    int Fd { get; }

    int GemCreate(ref Uapi.DrmAmdgpuGemCreate args);
    int GemClose(ref Uapi.DrmGemClose args);
    int GemMmap(ref Uapi.DrmAmdgpuGemMmap args);
    int GemVa(ref Uapi.DrmAmdgpuGemVa args);
    int GemChangeHandle(ref Uapi.DrmGemChangeHandle args);
    int PrimeHandleToFd(ref Uapi.DrmPrimeHandle args);
    int PrimeFdToHandle(ref Uapi.DrmPrimeHandle args);

    /// <summary>
    /// DRM_AMDGPU_GEM_LIST_HANDLES: every GEM handle of this file. num_entries in: at most the span's length; out: the
    /// handle count, entries filled only when they fit (otherwise call again with a larger span).
    /// </summary>
    int GemListHandles(ref Uapi.DrmAmdgpuGemListHandles args, Span<Uapi.DrmAmdgpuGemListHandlesEntry> entries);

    /// <summary>
    /// DRM_AMDGPU_GEM_OP with AMDGPU_GEM_OP_GET_MAPPING_INFO: the VM mappings of one handle. num_entries in: at most the
    /// span's length; out: the mapping count, entries filled only when they fit.
    /// </summary>
    int GemMappingInfo(ref Uapi.DrmAmdgpuGemOp args, Span<Uapi.DrmAmdgpuGemVmEntry> entries);

    /// <summary>
    /// Each query's three ioctls (<see cref="RenderBoQuery"/>), in order, each answered as if called alone. The kernel's
    /// file takes them one by one, as here; a driver reached over a connection takes many in one round trip.
    /// </summary>
    void QueryBos(IReadOnlyList<RenderBoQuery> queries)
    {
        foreach (var q in queries)
        {
            q.MappingInfoRc = GemMappingInfo(ref q.MappingInfo, q.Mappings);
            q.MmapRc = GemMmap(ref q.Mmap);
            q.PrimeRc = PrimeHandleToFd(ref q.Prime);
        }
    }

    /// <summary>
    /// Recreates render BOs (<see cref="RenderBoCreate"/>), in order, each BO's calls as if made alone; the batch stops
    /// at the first BO whose calls fail. The kernel's file takes them one by one, as here; a driver reached over a
    /// connection takes many in one round trip.
    /// </summary>
    void CreateBos(IReadOnlyList<RenderBoCreate> creates)
    {
        foreach (var c in creates)
        {
            c.Run(this);
            if (c.Failed) return;
        }
    }
}
