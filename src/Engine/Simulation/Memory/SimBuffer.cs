using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Simulation.Memory;

/// <summary>
/// The memory behind one or more BO handles (an exporter and its imports share it). Its id is the dmabuf inode.
/// Freed, and its pages returned, when the last handle or fd lets go.
/// </summary>
internal sealed unsafe class SimBuffer
{
    private int _refs;
    private nint _address;

    public SimBuffer(GpuMemory memory, ulong id, ulong offset, ulong size, ulong length, uint domains, ulong domainFlags, ulong vramBytes)
    {
        Memory = memory;
        Id = id;
        Offset = offset;
        Size = size;
        Length = length;
        Domains = domains;
        DomainFlags = domainFlags;
        VramBytes = vramBytes;
    }

    public GpuMemory Memory { get; }
    public ulong Id { get; }
    public ulong Offset { get; }
    public ulong Size { get; }
    public ulong Length { get; }
    public uint Domains { get; }
    public ulong DomainFlags { get; }
    public ulong VramBytes { get; }
    public bool Freed { get; private set; }

    public SimBuffer AddRef()
    {
        _refs++;
        return this;
    }

    public void Release()
    {
        if (--_refs > 0 || Freed) return;
        Freed = true;
        Unmap();
        Memory.Free(this);
    }

    /// <summary>The buffer's bytes [offset, offset+length) in the simulator's own mapping (length below 2 GiB).</summary>
    public Span<byte> Bytes(ulong offset, int length)
    {
        if (offset > Size || (ulong)length > Size - offset) throw new ArgumentOutOfRangeException(nameof(offset));
        if (_address == 0)
        {
            var a = Libc.Mmap(0, (nuint)Length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED,
                (int)Memory.File.DangerousGetHandle(), checked((long)Offset));
            if (a == Libc.MapFailed) throw new IOException($"mmap of {Memory.Path} at 0x{Offset:x}+{Length} failed: errno {Libc.LastErrno}");
            _address = a;
        }
        return new Span<byte>((byte*)_address + offset, length);
    }

    internal void Unmap()
    {
        if (_address == 0) return;
        if (Libc.Munmap(_address, (nuint)Length) != 0) throw new IOException($"munmap of {Memory.Path} at 0x{Offset:x} failed: errno {Libc.LastErrno}");
        _address = 0;
    }
}
