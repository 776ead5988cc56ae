using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Native;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Simulator.Memory;

/// <summary>
/// One GPU's memory: a sparse file (renderD{minor}.mem) in which every BO lives at a page-aligned offset that is
/// also its mmap offset. Tracks VRAM use against the GPU's VRAM size. The simulator sees the whole file through one
/// mapping inside a reserved address range that grows with the file (one VMA, however many BOs).
/// VRAM stays resident, as a GPU's does: a freed VRAM BO's pages stay in the file (up to <see cref="ResidentCap"/>
/// bytes, so that a simulator never holds much more than its processes use), cleared to zeros behind the free that let
/// it go (a GPU that wipes VRAM on release: the free returns at once), and a later VRAM BO takes them, once cleared,
/// before any fresh range; system-memory BOs, VRAM past the cap and BOs under <see cref="ResidentMin"/> give their
/// pages back when freed.
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
    // Freed VRAM whose pages stay in the file: offset -> length, adjacent ranges merged.
    private readonly SortedList<ulong, ulong> _resident = new();
    private static readonly byte[] Zeros = new byte[1 << 20];
    private ulong _residentBytes;
    // The clears of freed VRAM, one after another; each adds its range to _resident when done.
    private Task _clearing = Task.CompletedTask;
    // Ends a resident range still being made when the memory is disposed (a simulator stopped moments after it started).
    private readonly CancellationTokenSource _disposing = new();

    /// <summary>The most bytes of freed VRAM one GPU keeps resident.</summary>
    public const ulong ResidentCap = 2UL << 30;

    /// <summary>
    /// VRAM BOs smaller than this neither stay resident nor take resident pages: clearing 100 000 small BOs one call
    /// each cost more than their fresh pages.
    /// </summary>
    public const ulong ResidentMin = 1UL << 20;
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

    /// <summary>
    /// Makes the first <paramref name="bytes"/> of VRAM resident (at most <see cref="ResidentCap"/> and the VRAM size),
    /// as a GPU's VRAM is present from power-on: zeros are written into fresh pages behind this call, and the range
    /// joins the freed VRAM that later BOs take. A BO placed there writes into memory the machine already gave this
    /// simulator, not into pages it hands out on first touch (on a virtual machine, a fault to its host for each: a
    /// restore into fresh pages took 2.7-3.4 s per GiB where one into resident pages took 0.45 s). Called once, before
    /// the first allocation; the first VRAM BO of 1 MiB or more waits for the zeros.
    /// </summary>
    public void MakeResident(ulong bytes)
    {
        if (_live.Count > 0 || _end != PageSize) throw new InvalidOperationException($"{Path}: VRAM is made resident before any BO is placed");
        var length = Math.Min(Math.Min(bytes, ResidentCap), VramSize) & ~(PageSize - 1);
        if (length < ResidentMin) return;
        var offset = _end;
        _end = offset + length;
        _residentBytes += length;
        var disposing = _disposing.Token;
        _clearing = Task.Run(() =>
        {
            Clear(offset, length, disposing);
            KeepResident(offset, length);
        });
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
        ulong offset;
        if (vram >= ResidentMin && TakeResident(length, align) is { } reused) offset = reused;
        else
        {
            offset = (_end + align - 1) / align * align;
            if (offset > MaxFileSize || length > MaxFileSize - offset) throw new SimError(Errno.ENOMEM, $"{owner}: {System.IO.Path.GetFileName(Path)} would pass {MaxFileSize} bytes");
            _end = offset + length;
        }
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
        if (buffer.VramBytes >= ResidentMin && buffer.Length <= ResidentCap - _residentBytes)
        {
            var (offset, length) = (buffer.Offset, buffer.Length);
            _residentBytes += length;
            _clearing = _clearing.ContinueWith(before =>
            {
                try
                {
                    Clear(offset, length);
                    KeepResident(offset, length);
                }
                finally
                {
                    // An earlier clear's failure is not lost behind this one.
                    before.GetAwaiter().GetResult();
                }
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
        else FileHoles.Punch(_file, Path, buffer.Offset, buffer.Length);
    }

    /// <summary>
    /// Waits for the clears of freed VRAM. Only the driver's calls start one or read what they leave, one call at a
    /// time: a call that waits here has every range freed before it cleared and in <see cref="_resident"/>. A clear
    /// that failed (a range freed twice) fails this call, once.
    /// </summary>
    private void Cleared()
    {
        var clearing = _clearing;
        _clearing = Task.CompletedTask;
        clearing.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Zeros over [offset, offset+length), so that the next BO there reads as zeros, as one in fresh pages does: paid
    /// after VRAM is let go, neither by the free (a migration's source, killed inside the pause) nor by the allocation
    /// that takes it again (a restore's, inside the pause). Pages the freed BO never touched are holes: where filling
    /// them finds the memory full, the range goes back to holes, zeros too.
    /// </summary>
    private void Clear(ulong offset, ulong length, CancellationToken disposing = default)
    {
        try
        {
            for (ulong at = 0; at < length && !disposing.IsCancellationRequested; at += (ulong)Zeros.Length)
                RandomAccess.Write(_file, Zeros.AsSpan(0, (int)Math.Min((ulong)Zeros.Length, length - at)), checked((long)(offset + at)));
        }
        catch (IOException)
        {
            FileHoles.Punch(_file, Path, offset, length);
        }
    }

    /// <summary>A freed VRAM range is kept, merged with its neighbours.</summary>
    private void KeepResident(ulong offset, ulong length)
    {
        var index = _resident.IndexOfKey(offset);
        if (index >= 0) throw new InvalidOperationException($"{Path}: 0x{offset:x} freed twice");
        // The range before, if it ends here, and the range after, if it starts where this ends, become one.
        var before = Floor(_resident.Keys, offset);
        if (before >= 0 && _resident.Keys[before] + _resident.Values[before] == offset)
        {
            offset = _resident.Keys[before];
            length += _resident.Values[before];
            _resident.RemoveAt(before);
        }
        if (_resident.TryGetValue(offset + length, out var after))
        {
            _resident.Remove(offset + length);
            length += after;
        }
        _resident.Add(offset, length);
    }

    /// <summary>The index of the last of the sorted <paramref name="keys"/> at or before <paramref name="at"/>; -1 when none is.</summary>
    private static int Floor(IList<ulong> keys, ulong at)
    {
        int lo = 0, hi = keys.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (keys[mid] <= at) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    /// <summary>The first resident range (of the first few: a BO never waits on a long search) that holds <paramref name="length"/> bytes at an <paramref name="align"/>-aligned offset (zeros since it was freed); null when none does.</summary>
    private ulong? TakeResident(ulong length, ulong align)
    {
        Cleared();
        for (var i = 0; i < Math.Min(_resident.Count, 16); i++)
        {
            var (start, size) = (_resident.Keys[i], _resident.Values[i]);
            var offset = (start + align - 1) / align * align;
            if (offset - start > size || length > size - (offset - start)) continue;
            _resident.RemoveAt(i);
            _residentBytes -= length;
            if (offset > start) _resident.Add(start, offset - start);
            if (offset + length < start + size) _resident.Add(offset + length, start + size - offset - length);
            return offset;
        }
        return null;
    }

    /// <summary>The live buffer holding [offset, offset+size), or null.</summary>
    public SimBuffer? Find(ulong offset, ulong size)
    {
        var found = Floor(_live.Keys, offset);
        if (found < 0) return null;
        var b = _live.Values[found];
        return offset - b.Offset <= b.Length && size <= b.Length - (offset - b.Offset) ? b : null;
    }

    public void Dispose()
    {
        // The clears write to the file: they end before it is closed, whatever they met.
        _disposing.Cancel();
        Task.WaitAny(_clearing);
        _live.Clear();
        if (Libc.Munmap(_base, unchecked((nuint)MaxFileSize)) != 0) throw new IOException($"munmap of {Path}'s view failed: errno {Libc.LastErrno}");
        _file.Dispose();
    }
}
