using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Host;

/// <summary>
/// The driver a journalled job used, when it cannot be opened any more (its simulator or device is gone): it carries the
/// job's driver name, so that `gpuckpt forget` lets go of the right claim, and refuses every call with ENODEV.
/// </summary>
public sealed class UnreachableDriver(string name, string why) : IGpuDriver
{
    public string Name { get; } = name;

    private DriverException Gone(string op) => new(Errno.ENODEV, op, Name, detail: why);

    public IReadOnlyList<GpuNode> Topology() => throw Gone("topology");
    public IKfdFile OpenKfd(uint pid) => throw Gone($"open /dev/kfd of pid {pid}");
    public uint CreateRestoreTarget() => throw Gone("create restore target");
    public void DiscardRestoreTarget(uint pid) => throw Gone($"discard pid {pid}");
    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => throw Gone($"list render nodes of pid {pid}");
    public IRenderNode OpenRenderNode(uint pid, uint minor) => throw Gone($"open renderD{minor} of pid {pid}");
    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable) => throw Gone("map BO");
    public ulong DmabufInode(int fd) => throw Gone("dmabuf inode");
    public void CloseFd(int fd) => throw Gone("close");
    public void Dispose() { }
}
