namespace Gpuckpt.Simulator.Memory;

/// <summary>
/// The memory behind one or more BO handles (an exporter and its imports share it). Its id is the dmabuf inode.
/// Freed, and its pages returned, when the last handle or fd lets go.
/// </summary>
internal sealed class SimBuffer
{
    private int _refs;

    public SimBuffer(GpuMemory memory, ulong id, ulong offset, ulong size, ulong length, uint domains, ulong domainFlags, ulong vramBytes, ulong pageAlignment)
    {
        PageAlignment = pageAlignment;
        Memory = memory;
        Id = id;
        Offset = offset;
        Size = size;
        Length = length;
        Domains = domains;
        DomainFlags = domainFlags;
        VramBytes = vramBytes;
        WrittenAt = GpuMemory.Tick();
    }

    public GpuMemory Memory { get; }
    public ulong Id { get; }
    public ulong Offset { get; }
    public ulong Size { get; }
    public ulong Length { get; }
    public uint Domains { get; }
    public ulong DomainFlags { get; }
    public ulong VramBytes { get; }

    /// <summary>Whether the CPU may map it: not when created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS (mmap and GEM_MMAP get EPERM).</summary>
    public bool CpuAccessible => (DomainFlags & Gpuckpt.Engine.Uapi.AmdgpuGem.CreateNoCpuAccess) == 0;

    /// <summary>The kernel's page_alignment of the BO: its GEM_CREATE alignment in pages, rounded up (0 when none was asked).</summary>
    public ulong PageAlignment { get; }
    public bool Freed { get; private set; }

    /// <summary>The memory's write clock at the buffer's last write by a workload step (or its allocation, or its process's resume).</summary>
    public ulong WrittenAt { get; set; }

    public SimBuffer AddRef()
    {
        _refs++;
        return this;
    }

    public void Release()
    {
        if (--_refs > 0 || Freed) return;
        Freed = true;
        Memory.Free(this);
    }

    /// <summary>The buffer's bytes [offset, offset+length) in the simulator's own view of the memory file.</summary>
    public Span<byte> Bytes(ulong offset, int length)
    {
        if (Freed || offset > Size || (ulong)length > Size - offset) throw new ArgumentOutOfRangeException(nameof(offset));
        return Memory.View(Offset + offset, length);
    }
}
