using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Simulator;

/// <summary>
/// A simulated BO reached by offset in the simulator's memory file (pread/pwrite at the BO's mmap offset), the way a
/// copy engine moves it: no mapping to set up and tear down. The file stays its owner's; this view does not close it.
/// </summary>
internal sealed class FileBoMapping(MemoryFileHandle memory, string path, ulong offset, ulong size) : IBoMapping
{
    private int _disposed;

    public ulong Size { get; } = size;

    /// <summary>A pread or pwrite of the memory file in tmpfs.</summary>
    public bool CopiesAtMemorySpeed => true;

    public void Read(ulong at, Span<byte> destination)
    {
        var position = Position(at, destination.Length);
        var done = 0;
        while (done < destination.Length)
        {
            var n = RandomAccess.Read(memory.Handle, destination[done..], position + done);
            if (n == 0) throw new DriverException(Errno.EFAULT, "read", path, $"offset 0x{offset:x}", $"memory file ends at {position + done}");
            done += n;
        }
    }

    public void Write(ulong at, ReadOnlySpan<byte> source)
    {
        var position = Position(at, source.Length);
        lock (memory.Writes) RandomAccess.Write(memory.Handle, source, position);
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
