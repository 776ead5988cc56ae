using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Simulator.Memory;

/// <summary>
/// One GPU's memory: a sparse file (renderD{minor}.mem) in which every BO lives at a page-aligned offset that is
/// also its mmap offset. Tracks VRAM use against the GPU's VRAM size. The simulator sees the whole file through one
/// mapping inside a reserved address range that grows with the file (one VMA, however many BOs).
/// </summary>
internal sealed unsafe class GpuMemory : IDisposable
{
    public const ulong PageSize = 4096;
    public const ulong MaxFileSize = 1UL << 40;
    private const int MapPrivate = 0x02, MapFixed = 0x10, MapAnonymous = 0x20, MapNoReserve = 0x4000;

    private readonly nint _base;
    private ulong _mapped;

    private readonly SafeFileHandle _file;
    private readonly SortedList<ulong, SimBuffer> _live = new();
    private ulong _end = PageSize; // offset 0 stays unused so that no BO has mmap offset 0

    private static ulong s_writeClock;

    /// <summary>The next tick of the simulator's write clock, which dates every buffer's last write (dirty tracking for pre-copy).</summary>
    public static ulong Tick() => Interlocked.Increment(ref s_writeClock);

    /// <summary>The write clock now: a buffer written later has a larger <see cref="SimBuffer.WrittenAt"/>.</summary>
    public static ulong WriteClock => Interlocked.Read(ref s_writeClock);

    public GpuMemory(string path, ulong vramSize)
    {
        Path = path;
        VramSize = vramSize;
        _file = System.IO.File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
        // Sized once, sparse, as a device's aperture is: CRIU restores a task holding this file only if its size is the one dumped.
        RandomAccess.SetLength(_file, checked((long)MaxFileSize));
        // Address space only: PROT_NONE and NORESERVE commit nothing until the file is mapped over it.
        _base = Libc.Mmap(0, unchecked((nuint)MaxFileSize), 0, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (_base == Libc.MapFailed)
        {
            _file.Dispose();
            throw new IOException($"reserving {MaxFileSize} bytes of address space for {path} failed: errno {Libc.LastErrno}");
        }
    }

    public string Path { get; }
    public ulong VramSize { get; }
    public ulong VramUsed { get; private set; }
    public SafeFileHandle File => _file;

    public static ulong PageAlign(ulong size) => checked((size + PageSize - 1) & ~(PageSize - 1));

    /// <summary>Room for <paramref name="vramBytes"/> more VRAM bytes.</summary>
    public bool Fits(ulong vramBytes) => vramBytes <= VramSize && VramUsed <= VramSize - vramBytes;

    /// <summary>A BO of <paramref name="size"/> bytes at an offset that is a multiple of <paramref name="pageAlignment"/> pages (0 and 1: any page).</summary>
    public SimBuffer Allocate(ulong size, uint domains, ulong domainFlags, ulong id, string owner, ulong pageAlignment = 1)
    {
        if (size == 0) throw new SimError(Errno.EINVAL, $"{owner}: zero-size BO");
        var length = PageAlign(size);
        var align = Math.Max(1, pageAlignment) * PageSize;
        var vram = (domains & Engine.Uapi.AmdgpuGem.DomainVram) != 0 ? length : 0;
        if (!Fits(vram))
            throw new SimError(Errno.ENOMEM, $"{owner}: {length} bytes of VRAM wanted, {VramSize - VramUsed} of {VramSize} free on {System.IO.Path.GetFileName(Path)}");
        var offset = (_end + align - 1) / align * align;
        if (offset > MaxFileSize || length > MaxFileSize - offset) throw new SimError(Errno.ENOMEM, $"{owner}: {System.IO.Path.GetFileName(Path)} would pass {MaxFileSize} bytes");
        _end = offset + length;
        VramUsed += vram;
        var buffer = new SimBuffer(this, id, offset, size, length, domains, domainFlags, vram, pageAlignment);
        _live.Add(offset, buffer);
        return buffer;
    }

    /// <summary>The simulator's view of [offset, offset+length) of the file, mapping newly grown parts on first use.</summary>
    public Span<byte> View(ulong offset, int length)
    {
        var end = checked(offset + (ulong)length);
        if (end > _end) throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{length} is past the end of {Path}");
        if (end > _mapped)
        {
            var from = _mapped;
            var a = Libc.Mmap(_base + (nint)from, (nuint)(_end - from), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | MapFixed,
                (int)_file.DangerousGetHandle(), checked((long)from));
            if (a == Libc.MapFailed) throw new IOException($"mmap of {Path} at 0x{from:x}+{_end - from} failed: errno {Libc.LastErrno}");
            _mapped = _end;
        }
        return new Span<byte>((byte*)_base + offset, length);
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
        _live.Clear();
        if (Libc.Munmap(_base, unchecked((nuint)MaxFileSize)) != 0) throw new IOException($"munmap of {Path}'s view failed: errno {Libc.LastErrno}");
        _file.Dispose();
    }
}
