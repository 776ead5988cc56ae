using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Native;

/// <summary>A BO mapped with mmap(2) from a device file at its mmap offset (a render node, or the simulator's memory file).</summary>
public sealed unsafe class MmapBoMapping : IBoMapping, IDirectBoMapping
{
    private readonly nint _address;
    private readonly nuint _length;
    private int _disposed;

    private MmapBoMapping(nint address, ulong size)
    {
        _address = address;
        _length = (nuint)size;
        Size = size;
    }

    public ulong Size { get; }

    /// <summary>Opens <paramref name="devicePath"/> and maps [offset, offset+size). A zero-size BO maps nothing.</summary>
    public static MmapBoMapping Map(string devicePath, ulong offset, ulong size, bool writable)
    {
        if (size == 0) return new MmapBoMapping(0, 0);
        var fd = Libc.Open(devicePath, (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC);
        if (fd < 0) throw new DriverException(Libc.LastErrno, "open", devicePath);
        try
        {
            return Map(fd, devicePath, offset, size, writable);
        }
        finally
        {
            // The mapping keeps its own reference to the file.
            Libc.Close(fd);
        }
    }

    /// <summary>
    /// Maps [offset, offset+size) of an already open file <paramref name="fd"/> (named <paramref name="device"/> in errors).
    /// A render node only lets the file that holds a BO's handle map it, so real BOs are mapped through that file.
    /// </summary>
    public static MmapBoMapping Map(int fd, string device, ulong offset, ulong size, bool writable)
    {
        if (size == 0) return new MmapBoMapping(0, 0);
        var prot = Libc.PROT_READ | (writable ? Libc.PROT_WRITE : 0);
        var address = Libc.Mmap(0, (nuint)size, prot, Libc.MAP_SHARED, fd, checked((long)offset));
        if (address == Libc.MapFailed)
            throw new DriverException(Libc.LastErrno, "mmap", device, $"offset 0x{offset:x} size {size}");
        return new MmapBoMapping(address, size);
    }

    public void Read(ulong offset, Span<byte> destination)
    {
        CheckRange(offset, (ulong)destination.Length);
        new ReadOnlySpan<byte>((byte*)_address + offset, destination.Length).CopyTo(destination);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, (ulong)source.Length);
        source.CopyTo(new Span<byte>((byte*)_address + offset, source.Length));
    }

    public Span<byte> Span(ulong offset, int length)
    {
        CheckRange(offset, (ulong)length);
        return new Span<byte>((byte*)_address + offset, length);
    }

    /// <summary>Fills the page tables of [offset, offset+length) in one call (cheaper than a fault per page); advisory.</summary>
    public void Prefetch(ulong offset, int length, bool write)
    {
        CheckRange(offset, (ulong)length);
        if (length > 0) Libc.Madvise(PageStart(offset), PageSpan(offset, length), write ? Libc.MADV_POPULATE_WRITE : Libc.MADV_POPULATE_READ);
    }

    /// <summary>
    /// Drops the page-table entries of [offset, offset+length) once copied, so a BO larger than memory never sits in
    /// this process's resident set (the bytes stay in the BO); advisory: device memory mappings refuse it, harmlessly.
    /// </summary>
    public void Release(ulong offset, int length)
    {
        CheckRange(offset, (ulong)length);
        if (length > 0) Libc.Madvise(PageStart(offset), PageSpan(offset, length), Libc.MADV_DONTNEED);
    }

    private nint PageStart(ulong offset) => _address + (nint)(offset & ~(ulong)(Environment.SystemPageSize - 1));

    private static nuint PageSpan(ulong offset, int length)
    {
        var page = (ulong)Environment.SystemPageSize;
        var start = offset & ~(page - 1);
        var end = (offset + (ulong)length + page - 1) & ~(page - 1);
        return (nuint)(end - start);
    }

    private void CheckRange(ulong offset, ulong length)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (offset > Size || length > Size - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range [{offset}, {offset + length}) outside BO of {Size} bytes");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _length == 0) return;
        if (Libc.Munmap(_address, _length) != 0)
            throw new DriverException(Libc.LastErrno, "munmap", $"0x{_address:x}");
    }
}
