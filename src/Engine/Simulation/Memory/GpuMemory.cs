using Gpuckpt.Engine.Devices;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Simulation.Memory;

/// <summary>
/// One GPU's memory: a sparse file (renderD{minor}.mem) in which every BO lives at a page-aligned offset that is
/// also its mmap offset. Tracks VRAM use against the GPU's VRAM size.
/// </summary>
internal sealed class GpuMemory : IDisposable
{
    public const ulong PageSize = 4096;

    private readonly SafeFileHandle _file;
    private readonly SortedList<ulong, SimBuffer> _live = new();
    private ulong _end = PageSize; // offset 0 stays unused so that no BO has mmap offset 0

    public GpuMemory(string path, ulong vramSize)
    {
        Path = path;
        VramSize = vramSize;
        _file = System.IO.File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
    }

    public string Path { get; }
    public ulong VramSize { get; }
    public ulong VramUsed { get; private set; }
    public SafeFileHandle File => _file;

    public static ulong PageAlign(ulong size) => checked((size + PageSize - 1) & ~(PageSize - 1));

    /// <summary>Room for <paramref name="vramBytes"/> more VRAM bytes.</summary>
    public bool Fits(ulong vramBytes) => vramBytes <= VramSize && VramUsed <= VramSize - vramBytes;

    public SimBuffer Allocate(ulong size, uint domains, ulong domainFlags, ulong id, string owner)
    {
        if (size == 0) throw new SimError(Errno.EINVAL, $"{owner}: zero-size BO");
        var length = PageAlign(size);
        var vram = (domains & Uapi.AmdgpuGem.DomainVram) != 0 ? length : 0;
        if (!Fits(vram))
            throw new SimError(Errno.ENOMEM, $"{owner}: {length} bytes of VRAM wanted, {VramSize - VramUsed} of {VramSize} free on {System.IO.Path.GetFileName(Path)}");
        var offset = _end;
        _end = checked(_end + length);
        // Sparse growth: untouched pages cost nothing.
        RandomAccess.SetLength(_file, checked((long)_end));
        VramUsed += vram;
        var buffer = new SimBuffer(this, id, offset, size, length, domains, domainFlags, vram);
        _live.Add(offset, buffer);
        return buffer;
    }

    internal void Free(SimBuffer buffer)
    {
        _live.Remove(buffer.Offset);
        VramUsed -= buffer.VramBytes;
        FileHoles.Punch(_file, Path, buffer.Offset, buffer.Length);
    }

    /// <summary>The live buffer holding [offset, offset+size), or null.</summary>
    public SimBuffer? Find(ulong offset, ulong size)
    {
        var keys = _live.Keys;
        int lo = 0, hi = keys.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (keys[mid] <= offset) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return null;
        var b = _live.Values[found];
        return offset - b.Offset <= b.Length && size <= b.Length - (offset - b.Offset) ? b : null;
    }

    public void Dispose()
    {
        foreach (var b in _live.Values.ToList()) b.Unmap();
        _live.Clear();
        _file.Dispose();
    }
}
