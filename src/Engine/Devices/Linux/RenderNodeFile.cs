using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>A target process's render node file (/dev/dri/renderD{minor}), taken over from it: its GEM handles and VM.</summary>
internal sealed unsafe class RenderNodeFile(uint pid, uint minor, int fd, string device, Action<RenderNodeFile>? closed = null) : IRenderNode
{
    private int _fd = fd;

    public uint Pid { get; } = pid;
    public uint Minor { get; } = minor;
    public string Device { get; } = device;

    public int Fd
    {
        get
        {
            var fd = Volatile.Read(ref _fd);
            ObjectDisposedException.ThrowIf(fd < 0, this);
            return fd;
        }
    }

    public int GemCreate(ref DrmAmdgpuGemCreate args) => DeviceIoctl.Call(Fd, DrmIoctls.AmdgpuGemCreate, ref args);
    public int GemClose(ref DrmGemClose args) => DeviceIoctl.Call(Fd, DrmIoctls.GemClose, ref args);
    public int GemMmap(ref DrmAmdgpuGemMmap args) => DeviceIoctl.Call(Fd, DrmIoctls.AmdgpuGemMmap, ref args);
    public int GemVa(ref DrmAmdgpuGemVa args) => DeviceIoctl.Call(Fd, DrmIoctls.AmdgpuGemVa, ref args);
    public int GemChangeHandle(ref DrmGemChangeHandle args) => DeviceIoctl.Call(Fd, DrmIoctls.GemChangeHandle, ref args);
    public int PrimeHandleToFd(ref DrmPrimeHandle args) => DeviceIoctl.Call(Fd, DrmIoctls.PrimeHandleToFd, ref args);
    public int PrimeFdToHandle(ref DrmPrimeHandle args) => DeviceIoctl.Call(Fd, DrmIoctls.PrimeFdToHandle, ref args);

    public int GemListHandles(ref DrmAmdgpuGemListHandles args, Span<DrmAmdgpuGemListHandlesEntry> entries)
    {
        // The kernel fills num_entries entries when they fit: the count must not promise more room than the span has.
        if (args.num_entries > (uint)entries.Length) return Errno.EINVAL;
        fixed (DrmAmdgpuGemListHandlesEntry* e = entries)
        {
            args.entries = DeviceIoctl.Address(e, entries.Length);
            return DeviceIoctl.Call(Fd, DrmIoctls.AmdgpuGemListHandles, ref args);
        }
    }

    public int GemMappingInfo(ref DrmAmdgpuGemOp args, Span<DrmAmdgpuGemVmEntry> entries)
    {
        if (args.op != AmdgpuGem.GemOpGetMappingInfo || args.num_entries > (uint)entries.Length) return Errno.EINVAL;
        fixed (DrmAmdgpuGemVmEntry* e = entries)
        {
            args.value = DeviceIoctl.Address(e, entries.Length);
            return DeviceIoctl.Call(Fd, DrmIoctls.AmdgpuGemOp, ref args);
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        closed?.Invoke(this);
        if (Libc.Close(fd) != 0) throw new DriverException(Libc.LastErrno, "close", $"{Device} of pid {Pid}");
    }
}
