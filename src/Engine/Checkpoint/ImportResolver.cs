namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// Links every render-node import to its exporter by the identity of the dmabuf behind it. A render BO is an import
/// when the kernel flags it (a buffer of another device) or when its buffer is a KFD BO's: importing a KFD BO of the
/// same device gives back the KFD BO itself, without the flag, as CRIU's plugin also knows. An import whose exporter
/// has not been seen yet is deferred and retried as more exporters arrive; what remains at the end is an error.
/// </summary>
public sealed class ImportResolver
{
    private readonly Dictionary<ulong, Exporter> _exporters = new();
    private readonly HashSet<ulong> _kfdBuffers = [];
    private readonly List<(int NodeIndex, uint GpuId, RenderBo Bo)> _deferred = [];
    private readonly List<ResolvedImport> _links = [];
    private int _nodes;

    public IReadOnlyList<ResolvedImport> Links => _links;
    public int Deferred => _deferred.Count;

    /// <summary>The KFD BOs and the inode of the dmabuf each was exported as (BOs without contents have none).</summary>
    public void AddKfd(IEnumerable<(uint GpuId, int BoIndex, ulong Addr, ulong Inode)> bos)
    {
        foreach (var (gpuId, index, addr, inode) in bos)
        {
            _exporters.TryAdd(inode, new Exporter.Kfd(gpuId, index, addr));
            _kfdBuffers.Add(inode);
        }
        Retry();
    }

    /// <summary>Whether <paramref name="bo"/> imports a buffer rather than owning it (call after the KFD BOs were added).</summary>
    public bool IsImport(RenderBo bo) => bo.IsImport || _kfdBuffers.Contains(bo.DmabufInode);

    /// <summary>A render file, in capture order: its non-imports become exporters, its imports are linked now or deferred.</summary>
    public void AddRenderNode(RenderNodeSnapshot node)
    {
        var index = _nodes++;
        foreach (var bo in node.Bos.Where(b => !IsImport(b)))
            _exporters.TryAdd(bo.DmabufInode, new Exporter.Render(index, node.GpuId, bo.Handle));
        foreach (var bo in node.Bos.Where(IsImport))
            _deferred.Add((index, node.GpuId, bo));
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
            var (node, gpuId, bo) = _deferred[i];
            if (!_exporters.TryGetValue(bo.DmabufInode, out var exporter)) continue;
            _links.Add(new ResolvedImport(node, gpuId, bo.Handle, exporter));
            _deferred.RemoveAt(i);
        }
    }
}
