using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>
/// A driver whose RenderMinorsOpenedBy (a call of the checkpoint's capture step) blocks until <see cref="Release"/>, as a
/// hung ioctl would; the state of the process at the moment of release is kept for the test to look at.
/// </summary>
internal sealed class GatedDriver(IGpuDriver inner, Func<object> observe) : IGpuDriver
{
    private readonly ManualResetEventSlim _gate = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public object? ObservedAtRelease { get; private set; }

    /// <summary>Completes when the gated call is entered.</summary>
    public Task Entered => _entered.Task;

    public void Release()
    {
        ObservedAtRelease = observe();
        _gate.Set();
    }

    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid)
    {
        _entered.TrySetResult();
        _gate.Wait();
        return inner.RenderMinorsOpenedBy(pid);
    }

    public string Name => inner.Name;
    public IReadOnlyList<GpuNode> Topology() => inner.Topology();
    public IKfdFile OpenKfd(uint pid) => inner.OpenKfd(pid);
    public uint CreateRestoreTarget() => inner.CreateRestoreTarget();
    public void DiscardRestoreTarget(uint pid) => inner.DiscardRestoreTarget(pid);
    public IRenderNode OpenRenderNode(uint pid, uint minor) => inner.OpenRenderNode(pid, minor);
    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable) => inner.MapBo(renderMinor, mmapOffset, size, writable);
    public ulong DmabufInode(int fd) => inner.DmabufInode(fd);
    public void CloseFd(int fd) => inner.CloseFd(fd);
    public ulong[] DmabufInodes(IReadOnlyList<int> fds) => inner.DmabufInodes(fds);
    public void CloseFds(IReadOnlyList<int> fds) => inner.CloseFds(fds);

    public void Dispose()
    {
        _gate.Set();
        _gate.Dispose();
    }
}
