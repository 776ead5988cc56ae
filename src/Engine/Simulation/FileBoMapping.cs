using Gpuckpt.Engine.Devices;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Simulation;

/// <summary>
/// A simulated BO reached by offset in the simulator's memory file (pread/pwrite at the BO's mmap offset), the way a
/// copy engine moves it: no mapping to set up and tear down. The file stays its owner's; this view does not close it.
/// </summary>
internal sealed class FileBoMapping(MemoryFileHandle memory, string path, ulong offset, ulong size) : IBoMapping
{
    private readonly SafeFileHandle file = memory.Handle;
    private int _disposed;

    public ulong Size { get; } = size;

    public void Read(ulong at, Span<byte> destination)
    {
        var position = Position(at, destination.Length);
        var done = 0;
        while (done < destination.Length)
        {
            var n = RandomAccess.Read(file, destination[done..], position + done);
            if (n == 0) throw new DriverException(Errno.EFAULT, "read", path, $"offset 0x{offset:x}", $"memory file ends at {position + done}");
            done += n;
        }
    }

    public void Write(ulong at, ReadOnlySpan<byte> source)
    {
        var position = Position(at, source.Length);
        lock (memory.Writes) RandomAccess.Write(file, source, position);
    }

    private long Position(ulong at, int length)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (at > Size || (ulong)length > Size - at)
            throw new ArgumentOutOfRangeException(nameof(at), $"range [{at}, {at + (ulong)length}) outside BO of {Size} bytes");
        return checked((long)(offset + at));
    }

    public void Dispose() => Volatile.Write(ref _disposed, 1);
}

/// <summary>
/// The simulator's memory file as a client holds it open. Writes to a tmpfs file hold its inode lock, so they run one
/// at a time whatever the threads; they take <see cref="Writes"/> first, and a writer that waits sleeps here instead of
/// spinning in the kernel on the cores the copy needs (100 000 small BOs are 100 000 writes). Reads need no lock.
/// </summary>
internal sealed class MemoryFileHandle(SafeFileHandle handle)
{
    public SafeFileHandle Handle { get; } = handle;

    public Lock Writes { get; } = new();
}
