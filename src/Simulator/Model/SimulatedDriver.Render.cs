using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Model;

// The render-node (amdgpu DRM) ioctls the engine uses, on a process's render file reached through an fd.
internal sealed partial class SimulatedDriver
{
    /// <summary>An fd on process <paramref name="pid"/>'s file <paramref name="index"/> of render node renderD<paramref name="minor"/>.</summary>
    public int OpenRender(FdTable fds, uint pid, uint minor, int index = 0)
    {
        var p = Process(pid);
        var gpu = GpuByMinor(minor);
        if (!p.RenderFiles.ContainsKey((minor, index)))
        {
            // A running process has the files it opened; a restore target opens what the engine restores into, in order.
            if (p.Phase is ProcessPhase.Running or ProcessPhase.Paused)
                throw new SimError(Errno.ENOENT, $"process {pid} does not have file {index} of renderD{minor} open");
            if (index < 0 || (index > 0 && !p.RenderFiles.ContainsKey((minor, index - 1))))
                throw new SimError(Errno.ENOENT, $"process {pid}: file {index} of renderD{minor} opens after file {index - 1}");
            p.RenderFileOf(gpu, index);
        }
        return fds.AddRender(pid, minor, index);
    }

    private (SimProcess Process, RenderFile File) RenderOf(FdTable fds, int fd, SimOp op)
    {
        var r = fds.Render(fd);
        var p = Process(r.Pid);
        Trip(p.Pid, op);
        return (p, p.RenderFiles.TryGetValue((r.Minor, r.Index), out var f) ? f : throw new SimError(Errno.EBADF, $"renderD{r.Minor} of process {r.Pid} is closed"));
    }

    private static RenderBo Handle(RenderFile file, uint handle, string op) =>
        file.Handles.TryGetValue(handle, out var bo) ? bo : throw new SimError(Errno.ENOENT, $"{op}: no GEM handle {handle} on renderD{file.Gpu.Minor}");

    public void GemCreate(FdTable fds, int fd, ref DrmAmdgpuGemCreate args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemCreate);
        var domains = (uint)args.domains;
        if ((domains & (AmdgpuGem.DomainVram | AmdgpuGem.DomainGtt | AmdgpuGem.DomainCpu)) == 0 || args.domains > uint.MaxValue)
            throw new SimError(Errno.EINVAL, $"GEM_CREATE: unsupported domains 0x{args.domains:x}");
        var buffer = Allocate(file.Gpu, args.bo_size, domains, args.domain_flags, "GEM_CREATE", PageAlignment(args.alignment));
        var bo = new RenderBo(file.NextHandle(), buffer, isImport: false);
        file.Add(bo);
        args = default;
        args.handle = bo.Handle;
    }

    public void GemClose(FdTable fds, int fd, ref DrmGemClose args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemClose);
        var bo = Handle(file, args.handle, "GEM_CLOSE");
        file.Remove(bo);
        bo.Buffer.Release();
    }

    public void GemMmap(FdTable fds, int fd, ref DrmAmdgpuGemMmap args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemMmap);
        var bo = Handle(file, args.handle, "GEM_MMAP");
        // amdgpu_gem_mmap_ioctl: a BO created without CPU access has no CPU mapping to give.
        if (!bo.Buffer.CpuAccessible)
            throw new SimError(Errno.EPERM, $"GEM_MMAP: handle {args.handle} on renderD{file.Gpu.Minor} was created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS");
        args.addr_ptr = bo.Buffer.Offset;
    }

    /// <summary>
    /// mmap(2) of [offset, offset+size) through render fd <paramref name="fd"/>, as drm_gem_mmap checks it: the offset
    /// must be where a BO of that GPU starts (GEM_MMAP's answer, or KFD's offset) and the range within that BO, else
    /// EINVAL; the file must be allowed on the BO (it holds a handle of it, or it is the file the process gave KFD for
    /// a KFD BO of that GPU), else EACCES. Where the engine maps it: the memory file and the copy delay.
    /// </summary>
    public (string Path, uint MicrosPerMiB) MapThrough(FdTable fds, int fd, ulong offset, ulong size)
    {
        var (p, file) = RenderOf(fds, fd, SimOp.MapBo);
        var memory = file.Gpu.Memory;
        var buffer = memory.Find(offset, 0);
        if (buffer is null || buffer.Offset != offset || size == 0 || GpuMemory.PageAlign(size) > GpuMemory.PageAlign(buffer.Size))
            throw new SimError(Errno.EINVAL, $"mmap renderD{file.Gpu.Minor}: no BO starts at offset 0x{offset:x} with {size} bytes");
        var allowed = file.HolderOf(buffer) is not null || (p.KfdBos.Any(b => b.Buffer == buffer) && p.RenderFileOf(file.Gpu) == file);
        if (!allowed)
            throw new SimError(Errno.EACCES, $"mmap renderD{file.Gpu.Minor}: the BO at offset 0x{offset:x} is not one this file of process {p.Pid} holds");
        // amdgpu_gem_object_mmap refuses a BO without CPU access (a VRAM BO KFD allocated without PUBLIC).
        if (!buffer.CpuAccessible)
            throw new SimError(Errno.EPERM, $"mmap renderD{file.Gpu.Minor}: the BO at offset 0x{offset:x} was created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS");
        return (memory.Path, file.Gpu.CopyDelayMicrosPerMiB);
    }

    public void GemVa(FdTable fds, int fd, ref DrmAmdgpuGemVa args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemVa);
        if (args.num_syncobj_handles != 0 || args.vm_timeline_syncobj_out != 0)
            throw new SimError(Errno.EINVAL, "GEM_VA: syncobj fences and timelines are not simulated");
        var bo = Handle(file, args.handle, "GEM_VA");
        switch (args.operation)
        {
            case AmdgpuGem.VaOpMap:
                Map(file, bo, args, "GEM_VA");
                break;
            case AmdgpuGem.VaOpUnmap:
                var start = args.va_address / GpuMemory.PageSize;
                if (!file.Unmap(bo, start))
                    throw new SimError(Errno.EINVAL, $"GEM_VA unmap: handle {args.handle} has no mapping at 0x{args.va_address:x}");
                break;
            default:
                throw new SimError(Errno.EINVAL, $"GEM_VA: unsupported operation {args.operation}");
        }
    }

    private static void Map(RenderFile file, RenderBo bo, DrmAmdgpuGemVa args, string op)
    {
        const ulong mask = GpuMemory.PageSize - 1;
        if (args.map_size == 0 || ((args.va_address | args.offset_in_bo | args.map_size) & mask) != 0)
            throw new SimError(Errno.EINVAL, $"{op}: va 0x{args.va_address:x}, offset 0x{args.offset_in_bo:x}, size 0x{args.map_size:x} not page-aligned");
        var length = GpuMemory.PageAlign(bo.Buffer.Size);
        if (args.offset_in_bo > length || args.map_size > length - args.offset_in_bo)
            throw new SimError(Errno.EINVAL, $"{op}: [0x{args.offset_in_bo:x}, +0x{args.map_size:x}) is outside handle {bo.Handle} of {bo.Buffer.Size} bytes");
        var start = args.va_address / GpuMemory.PageSize;
        var mapping = new VmMapping(start, start + args.map_size / GpuMemory.PageSize - 1, args.offset_in_bo, args.flags);
        if (file.Overlapping(mapping) is { } other)
            throw new SimError(Errno.EINVAL, $"{op}: va 0x{args.va_address:x}+0x{args.map_size:x} overlaps a mapping of handle {other.Handle}");
        file.Map(bo, mapping);
    }

    public void GemChangeHandle(FdTable fds, int fd, ref DrmGemChangeHandle args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemChangeHandle);
        var bo = Handle(file, args.handle, "GEM_CHANGE_HANDLE");
        if (args.new_handle == args.handle) return;
        if (args.new_handle == 0) throw new SimError(Errno.EINVAL, "GEM_CHANGE_HANDLE: handle 0 is never valid");
        if (file.Handles.ContainsKey(args.new_handle))
            throw new SimError(Errno.EEXIST, $"GEM_CHANGE_HANDLE: handle {args.new_handle} is taken on renderD{file.Gpu.Minor}");
        file.Rehandle(bo, args.new_handle);
    }

    public void PrimeHandleToFd(FdTable fds, int fd, ref DrmPrimeHandle args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.PrimeHandleToFd);
        var bo = Handle(file, args.handle, "PRIME_HANDLE_TO_FD");
        args.fd = fds.AddDmabuf(bo.Buffer);
    }

    public void PrimeFdToHandle(FdTable fds, int fd, ref DrmPrimeHandle args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.PrimeFdToHandle);
        var buffer = fds.Dmabuf(args.fd);
        // The same buffer imported twice on one file gives the same handle, as drm_prime does.
        if (file.HolderOf(buffer) is { } existing)
        {
            args.handle = existing.Handle;
            return;
        }
        var bo = new RenderBo(file.NextHandle(), buffer.AddRef(), isImport: true);
        file.Add(bo);
        args.handle = bo.Handle;
    }

    /// <summary>
    /// GEM_LIST_HANDLES as mainline answers it: with num_entries 0 or too small, only the count comes back (call again
    /// with room for that many); otherwise every handle in handle order.
    /// </summary>
    public void GemListHandles(FdTable fds, int fd, ref DrmAmdgpuGemListHandles args, Span<DrmAmdgpuGemListHandlesEntry> entries)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemListHandles);
        var count = (uint)file.Handles.Count;
        if (args.num_entries >= count && count > 0)
        {
            if (entries.Length < count) throw new SimError(Errno.EFAULT, "GEM_LIST_HANDLES: entries shorter than num_entries");
            var i = 0;
            foreach (var bo in file.Handles.Values)
                entries[i++] = new DrmAmdgpuGemListHandlesEntry
                {
                    gem_handle = bo.Handle,
                    flags = bo.IsImport ? AmdgpuGem.ListHandlesFlagIsImport : 0,
                    size = bo.Buffer.Size,
                    preferred_domains = bo.Buffer.Domains,
                    alloc_flags = bo.Buffer.DomainFlags,
                    alignment = bo.Buffer.PageAlignment,
                };
        }
        args.num_entries = count;
    }

    /// <summary>GEM_OP(GET_MAPPING_INFO) as mainline answers it: addresses and sizes in bytes, the count when the array is too small.</summary>
    public void GemMappingInfo(FdTable fds, int fd, ref DrmAmdgpuGemOp args, Span<DrmAmdgpuGemVmEntry> entries)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.GemMappingInfo);
        if (args.padding != 0) throw new SimError(Errno.EINVAL, "GEM_OP: padding must be 0");
        var bo = Handle(file, args.handle, "GEM_OP");
        if (args.op != AmdgpuGem.GemOpGetMappingInfo) throw new SimError(Errno.EINVAL, $"GEM_OP: op {args.op} is not simulated");
        if (args.num_entries > MaxMappingEntries) throw new SimError(Errno.EINVAL, $"GEM_OP(GET_MAPPING_INFO): num_entries {args.num_entries} above {MaxMappingEntries}");
        var count = (uint)bo.Mappings.Count;
        if (args.num_entries >= count)
        {
            if (entries.Length < count) throw new SimError(Errno.EFAULT, "GEM_OP(GET_MAPPING_INFO): entries shorter than num_entries");
            for (var i = 0; i < bo.Mappings.Count; i++)
            {
                var m = bo.Mappings[i];
                entries[i] = new DrmAmdgpuGemVmEntry
                {
                    addr = m.Start * GpuMemory.PageSize,
                    size = (m.Last - m.Start + 1) * GpuMemory.PageSize,
                    offset = m.Offset,
                    flags = m.Flags,
                };
            }
        }
        args.num_entries = count;
    }

    /// <summary>The kernel refuses larger GET_MAPPING_INFO arrays outright.</summary>
    private const uint MaxMappingEntries = 65536;
}
