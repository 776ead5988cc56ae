namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Who exported the buffer a render-node import refers to.</summary>
public abstract record Exporter
{
    /// <summary>A KFD BO of the process: its user gpu id and its index in the KFD bucket order.</summary>
    public sealed record Kfd(uint GpuId, int BoIndex, ulong Addr) : Exporter
    {
        public override string ToString() => $"KFD BO #{BoIndex} at 0x{Addr:x} on GPU 0x{GpuId:x}";
    }

    /// <summary>A non-import BO of one of the process's render nodes.</summary>
    public sealed record Render(uint GpuId, uint Handle) : Exporter
    {
        public override string ToString() => $"render BO handle {Handle} on GPU 0x{GpuId:x}";
    }
}

/// <summary>One render-node import and the BO that exports its buffer.</summary>
public sealed record ResolvedImport(uint GpuId, uint Handle, Exporter Exporter);

/// <summary>
/// Links every render-node import to its exporter by the identity of the dmabuf behind it. An import whose exporter
/// has not been seen yet is deferred and retried as more exporters arrive; what remains at the end is an error.
/// </summary>
public sealed class ImportResolver
{
    private readonly Dictionary<ulong, Exporter> _exporters = new();
    private readonly List<(uint GpuId, RenderBo Bo)> _deferred = [];
    private readonly List<ResolvedImport> _links = [];

    public IReadOnlyList<ResolvedImport> Links => _links;
    public int Deferred => _deferred.Count;

    /// <summary>The KFD BOs and the inode of the dmabuf each was exported as (BOs without contents have none).</summary>
    public void AddKfd(IEnumerable<(uint GpuId, int BoIndex, ulong Addr, ulong Inode)> bos)
    {
        foreach (var (gpuId, index, addr, inode) in bos) _exporters.TryAdd(inode, new Exporter.Kfd(gpuId, index, addr));
        Retry();
    }

    /// <summary>A render node: its non-imports become exporters, its imports are linked now or deferred.</summary>
    public void AddRenderNode(RenderNodeSnapshot node)
    {
        foreach (var bo in node.Bos.Where(b => !b.IsImport))
            _exporters.TryAdd(bo.DmabufInode, new Exporter.Render(node.GpuId, bo.Handle));
        foreach (var bo in node.Bos.Where(b => b.IsImport))
            _deferred.Add((node.GpuId, bo));
        Retry();
    }

    /// <summary>Every import linked; otherwise an error naming each import whose exporter is not in this process.</summary>
    public IReadOnlyList<ResolvedImport> Finish()
    {
        Retry();
        if (_deferred.Count == 0) return _links;
        var missing = string.Join("; ", _deferred.Select(d =>
            $"render BO handle {d.Bo.Handle} on GPU 0x{d.GpuId:x} imports dmabuf inode {d.Bo.DmabufInode}"));
        throw new InvalidOperationException($"{_deferred.Count} import(s) have no exporter in this process: {missing}");
    }

    private void Retry()
    {
        for (var i = _deferred.Count - 1; i >= 0; i--)
        {
            var (gpuId, bo) = _deferred[i];
            if (!_exporters.TryGetValue(bo.DmabufInode, out var exporter)) continue;
            _links.Add(new ResolvedImport(gpuId, bo.Handle, exporter));
            _deferred.RemoveAt(i);
        }
    }
}
