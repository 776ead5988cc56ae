using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Tests.Support;

/// <summary>
/// A driver that hands every call to <paramref name="inner"/>: the base of the test drivers that hold or observe one
/// call (a hung ioctl, a copy held mid-way). Disposing it leaves <paramref name="inner"/> to its owner.
/// </summary>
public abstract class ForwardingDriver(IGpuDriver inner) : IGpuDriver
{
    protected IGpuDriver Inner { get; } = inner;

    public virtual string Name => Inner.Name;
    public virtual IReadOnlyList<GpuNode> Topology() => Inner.Topology();
    public virtual IReadOnlyList<CpuNode> CpuNodes() => Inner.CpuNodes();
    public virtual IKfdFile OpenKfd(uint pid) => Inner.OpenKfd(pid);
    public virtual uint CreateRestoreTarget() => Inner.CreateRestoreTarget();
    public virtual uint CreateRestoreTarget(string tag) => Inner.CreateRestoreTarget(tag);
    public virtual IReadOnlyList<uint> RestoreTargetsTagged(string tag) => Inner.RestoreTargetsTagged(tag);
    public virtual void DiscardRestoreTarget(uint pid) => Inner.DiscardRestoreTarget(pid);
    public virtual void KillProcess(uint pid) => Inner.KillProcess(pid);
    public virtual IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => Inner.RenderMinorsOpenedBy(pid);
    public virtual IRenderNode OpenRenderNode(uint pid, uint minor) => Inner.OpenRenderNode(pid, minor);
    public virtual IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid) => Inner.RenderFilesOpenedBy(pid);
    public virtual IRenderNode OpenRenderFile(uint pid, RenderFileRef file) => Inner.OpenRenderFile(pid, file);
    public virtual IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable) => Inner.MapBo(renderMinor, mmapOffset, size, writable);
    public virtual void PrepareMaps(IReadOnlyList<BoRange> bos) => Inner.PrepareMaps(bos);
    public virtual void ForgetMaps(IReadOnlyList<BoRange> bos) => Inner.ForgetMaps(bos);
    public virtual ulong DmabufInode(int fd) => Inner.DmabufInode(fd);

    public virtual DirtyWrites? WrittenSince(uint pid, ulong since) => Inner.WrittenSince(pid, since);
    public virtual void CloseFd(int fd) => Inner.CloseFd(fd);
    public virtual ulong[] DmabufInodes(IReadOnlyList<int> fds) => Inner.DmabufInodes(fds);
    public virtual void CloseFds(IReadOnlyList<int> fds) => Inner.CloseFds(fds);

    public virtual void Dispose() { }
}
