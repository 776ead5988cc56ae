using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Model;

/// <summary>
/// A process's open render node: its GEM handle table and its GPU VM. Every change goes through this class, which keeps
/// the indexes a process of 100 000 BOs needs: the lowest free handle, the buffer behind each handle, the VM's mappings
/// ordered by address.
/// </summary>
internal sealed class RenderFile(SimGpu gpu, int index)
{
    private readonly SortedDictionary<uint, RenderBo> _handles = new();
    private readonly Dictionary<SimBuffer, RenderBo> _byBuffer = new(ReferenceEqualityComparer.Instance);
    // The VM's mappings ordered by first page (they never overlap, so first pages are unique). A sorted list and binary
    // search: a SortedSet view between two bounds counts every element in it when made, which made GEM_VA quadratic.
    private readonly List<(ulong Start, ulong Last, RenderBo Bo)> _vm = [];
    private uint _lowestMaybeFree = 1;

    public SimGpu Gpu { get; } = gpu;

    /// <summary>Which of its process's files of this node it is, in the order they were opened.</summary>
    public int Index { get; } = index;

    /// <summary>The handles in order.</summary>
    public IReadOnlyDictionary<uint, RenderBo> Handles => _handles;

    /// <summary>The lowest free handle, as the kernel's idr hands them out.</summary>
    public uint NextHandle()
    {
        while (_handles.ContainsKey(_lowestMaybeFree)) _lowestMaybeFree++;
        return _lowestMaybeFree;
    }

    public void Add(RenderBo bo)
    {
        _handles.Add(bo.Handle, bo);
        _byBuffer.TryAdd(bo.Buffer, bo);
        foreach (var m in bo.Mappings) AddMapping(m, bo);
    }

    /// <summary>Takes <paramref name="bo"/> out of the table, with its mappings; its handle is free again.</summary>
    public void Remove(RenderBo bo)
    {
        _handles.Remove(bo.Handle);
        if (_byBuffer.TryGetValue(bo.Buffer, out var holder) && holder == bo) _byBuffer.Remove(bo.Buffer);
        foreach (var m in bo.Mappings) RemoveMapping(m.Start);
        _lowestMaybeFree = Math.Min(_lowestMaybeFree, bo.Handle);
    }

    /// <summary>GEM_CHANGE_HANDLE: the same BO under another (free) handle.</summary>
    public void Rehandle(RenderBo bo, uint handle)
    {
        Remove(bo);
        bo.Handle = handle;
        Add(bo);
    }

    /// <summary>The handle that holds <paramref name="buffer"/> on this file, if any (drm_prime gives it back on import).</summary>
    public RenderBo? HolderOf(SimBuffer buffer) => _byBuffer.GetValueOrDefault(buffer);

    /// <summary>The BO whose mapping overlaps <paramref name="m"/>, if any.</summary>
    public RenderBo? Overlapping(VmMapping m)
    {
        // Mappings never overlap one another, so only the last one starting at or before m's end can overlap m.
        var at = Floor(m.Last);
        return at >= 0 && _vm[at].Last >= m.Start ? _vm[at].Bo : null;
    }

    public void Map(RenderBo bo, VmMapping m)
    {
        bo.Mappings.Add(m);
        AddMapping(m, bo);
    }

    /// <summary>Removes <paramref name="bo"/>'s mapping that starts at page <paramref name="start"/>; false when it has none there.</summary>
    public bool Unmap(RenderBo bo, ulong start)
    {
        var index = bo.Mappings.FindIndex(m => m.Start == start);
        if (index < 0) return false;
        var m = bo.Mappings[index];
        bo.Mappings.RemoveAt(index);
        RemoveMapping(m.Start);
        return true;
    }

    /// <summary>The command submission contexts (DRM_AMDGPU_CTX) this file allocated.</summary>
    public HashSet<uint> Contexts { get; } = [];
    public uint LastContext { get; set; }

    /// <summary>Each context's submissions so far (the fence sequence WAIT_CS names) and the ones that faulted, with why.</summary>
    public Dictionary<uint, ulong> Submitted { get; } = new();
    public Dictionary<(uint Ctx, ulong Seq), string> FailedJobs { get; } = new();

    /// <summary>
    /// The BO and the byte within it that GPU VA <paramref name="va"/> reaches through this file's VM, and how many bytes
    /// from there on stay inside the same mapping and the BO; null where no mapping holds the address (a GPU page fault).
    /// </summary>
    public (RenderBo Bo, ulong Offset, ulong Left)? Resolve(ulong va)
    {
        var page = va / GpuMemory.PageSize;
        var at = Floor(page);
        if (at < 0 || _vm[at].Last < page) return null;
        var (start, last, bo) = _vm[at];
        var mapping = bo.Mappings.First(m => m.Start == start);
        var offset = mapping.Offset + (va - start * GpuMemory.PageSize);
        if (offset >= bo.Buffer.Size) return null;
        return (bo, offset, Math.Min((last + 1) * GpuMemory.PageSize - va, bo.Buffer.Size - offset));
    }

    /// <summary>The first page after every mapping of this file (0 when nothing is mapped).</summary>
    public ulong VmEnd => _vm.Count == 0 ? 0 : _vm[^1].Last + 1;

    /// <summary>Index of the last mapping starting at or before <paramref name="page"/>; -1 when none does.</summary>
    private int Floor(ulong page)
    {
        int lo = 0, hi = _vm.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = lo + (hi - lo) / 2;
            if (_vm[mid].Start <= page)
            {
                found = mid;
                lo = mid + 1;
            }
            else hi = mid - 1;
        }
        return found;
    }

    /// <summary>Adds a mapping in order; one whose first page is taken already is not added (callers check overlaps first).</summary>
    private void AddMapping(VmMapping m, RenderBo bo)
    {
        var at = Floor(m.Start);
        if (at >= 0 && _vm[at].Start == m.Start) return;
        _vm.Insert(at + 1, (m.Start, m.Last, bo));
    }

    private void RemoveMapping(ulong start)
    {
        var at = Floor(start);
        if (at >= 0 && _vm[at].Start == start) _vm.RemoveAt(at);
    }
}
