using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Tests.Faults;

/// <summary>
/// A driver whose BO reads pass freely <paramref name="passing"/> times, then wait at a gate that lets through as many
/// more as the test <see cref="Allow"/>s, or all once it is <see cref="Open"/>: a checkpoint provably in the middle of its
/// copy, for as long as the test needs (no slow copy and no luck). Everything else goes straight to <paramref name="inner"/>.
/// </summary>
internal sealed class GatedCopyDriver(IGpuDriver inner, int passing) : IGpuDriver
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _allowance = passing;
    private bool _open;

    /// <summary>Completes when a read first waits at the gate.</summary>
    public Task Held => _held.Task;

    /// <summary>Lets <paramref name="reads"/> more reads through, then holds the rest again.</summary>
    public void Allow(int reads)
    {
        lock (_gate)
        {
            _allowance += reads;
            Monitor.PulseAll(_gate);
        }
    }

    public void Open()
    {
        lock (_gate)
        {
            _open = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void Pass()
    {
        lock (_gate)
        {
            while (!_open && _allowance == 0)
            {
                _held.TrySetResult();
                Monitor.Wait(_gate);
            }
            if (!_open) _allowance--;
        }
    }

    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable) =>
        new GatedMapping(inner.MapBo(renderMinor, mmapOffset, size, writable), this);

    public string Name => inner.Name;
    public IReadOnlyList<GpuNode> Topology() => inner.Topology();
    public IReadOnlyList<CpuNode> CpuNodes() => inner.CpuNodes();
    public IKfdFile OpenKfd(uint pid) => inner.OpenKfd(pid);
    public uint CreateRestoreTarget() => inner.CreateRestoreTarget();
    public uint CreateRestoreTarget(string tag) => inner.CreateRestoreTarget(tag);
    public IReadOnlyList<uint> RestoreTargetsTagged(string tag) => inner.RestoreTargetsTagged(tag);
    public void DiscardRestoreTarget(uint pid) => inner.DiscardRestoreTarget(pid);
    public void KillProcess(uint pid) => inner.KillProcess(pid);
    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => inner.RenderMinorsOpenedBy(pid);
    public IRenderNode OpenRenderNode(uint pid, uint minor) => inner.OpenRenderNode(pid, minor);
    public IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid) => inner.RenderFilesOpenedBy(pid);
    public IRenderNode OpenRenderFile(uint pid, RenderFileRef file) => inner.OpenRenderFile(pid, file);
    public ulong DmabufInode(int fd) => inner.DmabufInode(fd);
    public void CloseFd(int fd) => inner.CloseFd(fd);

    /// <summary>Opens the gate: a test that fails never leaves a copy thread waiting.</summary>
    public void Dispose() => Open();

    private sealed class GatedMapping(IBoMapping mapping, GatedCopyDriver driver) : IBoMapping
    {
        public ulong Size => mapping.Size;

        public void Read(ulong offset, Span<byte> destination)
        {
            driver.Pass();
            mapping.Read(offset, destination);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> source) => mapping.Write(offset, source);

        public void Dispose() => mapping.Dispose();
    }
}
