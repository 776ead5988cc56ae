using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// Asks a render file, harmlessly, whether this kernel has the DRM ioctls a checkpoint and a restore need. DRM answers
/// EINVAL for a request number it does not know (drm_ioctl: no table entry), so each probe is a call that a kernel
/// having it answers otherwise without changing anything: GEM_LIST_HANDLES with room for nothing (the count),
/// GEM_CHANGE_HANDLE of handle 0, which no file has (ENOENT), GEM_OP(GET_MAPPING_INFO) of a BO with room for nothing.
/// </summary>
public static class RenderIoctlProbe
{
    /// <summary>The first mainline kernel with the render-node CRIU interfaces (GEM_LIST_HANDLES, GET_MAPPING_INFO, GEM_CHANGE_HANDLE).</summary>
    public const string RenderCriuSince = "Linux 6.18";

    public const string ListHandles = "DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES", MappingInfo = "DRM_IOCTL_AMDGPU_GEM_OP(GET_MAPPING_INFO)",
        ChangeHandle = "DRM_IOCTL_GEM_CHANGE_HANDLE";

    /// <summary>
    /// Probes <paramref name="node"/>. GET_MAPPING_INFO needs a BO: the file's first one, or, with
    /// <paramref name="createBo"/> (a file of one's own), a one-page GTT BO made for it and closed again.
    /// </summary>
    public static IReadOnlyList<KernelIoctl> Probe(IRenderNode node, string device, bool createBo)
    {
        var list = new DrmAmdgpuGemListHandles();
        var rc = node.GemListHandles(ref list, []);
        var listing = Judge(ListHandles, "checkpoint", rc, 0, device, rc == 0 ? $"{list.num_entries} handle(s) on {device}" : null);
        return [listing, MappingInfoOf(node, device, createBo, rc == 0 ? list.num_entries : 0), ChangeHandleOf(node, device)];
    }

    private static KernelIoctl MappingInfoOf(IRenderNode node, string device, bool createBo, uint handles)
    {
        uint handle = 0;
        if (handles > 0)
        {
            var entries = new DrmAmdgpuGemListHandlesEntry[handles];
            var list = new DrmAmdgpuGemListHandles { num_entries = handles };
            // A BO made or closed meanwhile leaves the first entry unset; the probe then cannot tell.
            if (node.GemListHandles(ref list, entries) == 0 && list.num_entries <= handles) handle = entries[0].gem_handle;
        }
        var created = false;
        if (handle == 0 && createBo)
        {
            var create = new DrmAmdgpuGemCreate { bo_size = (ulong)Environment.SystemPageSize, domains = AmdgpuGem.DomainGtt };
            var made = node.GemCreate(ref create);
            if (made != 0)
                return new(MappingInfo, "checkpoint", RenderCriuSince, null, $"not probed: GEM_CREATE of a probe BO on {device} failed: {Errno.Name(made)}");
            handle = create.handle;
            created = true;
        }
        if (handle == 0) return new(MappingInfo, "checkpoint", RenderCriuSince, null, $"not probed: {device} holds no BO to ask about");
        try
        {
            var op = new DrmAmdgpuGemOp { handle = handle, op = AmdgpuGem.GemOpGetMappingInfo };
            var rc = node.GemMappingInfo(ref op, []);
            return Judge(MappingInfo, "checkpoint", rc, 0, device, null);
        }
        finally
        {
            if (created)
            {
                var close = new DrmGemClose { handle = handle };
                node.GemClose(ref close); // the probe's own BO: a failed close leaves a page in a file about to be closed
            }
        }
    }

    private static KernelIoctl ChangeHandleOf(IRenderNode node, string device)
    {
        var change = new DrmGemChangeHandle { handle = 0, new_handle = 0 };
        var rc = node.GemChangeHandle(ref change);
        // EOPNOTSUPP: a DRM driver without GEM; 0 would mean handle 0 existed, which no kernel hands out.
        return rc == Errno.EOPNOTSUPP
            ? new(ChangeHandle, "restore", RenderCriuSince, false, $"{device}: EOPNOTSUPP (the driver has no GEM)")
            : Judge(ChangeHandle, "restore", rc, Errno.ENOENT, device, null);
    }

    private static KernelIoctl Judge(string name, string neededFor, int rc, int presentRc, string device, string? detail) => rc switch
    {
        _ when rc == presentRc => new(name, neededFor, RenderCriuSince, true, detail ?? $"answers on {device}"),
        Errno.EINVAL => new(name, neededFor, RenderCriuSince, false, $"{device} answers EINVAL, as DRM does for a request it does not know"),
        _ => new(name, neededFor, RenderCriuSince, null, $"{device} answers {Errno.Name(rc)}: cannot tell"),
    };
}
