using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// The copy engine (SDMA) of one GPU, driven through a render file of the checkpointer's own: a context, a GTT staging
/// buffer and an IB buffer, each mapped into the file's GPU VM and by the CPU. A BO is reached by importing a dmabuf of
/// it and mapping it into the same VM; each piece of a copy is one COPY_LINEAR packet, submitted and waited for, so the
/// memory it uses stays one staging buffer whatever the BO's size. The ioctls libdrm_amdgpu would issue for this are
/// issued directly: its device init (amdgpu_device_initialize) also runs a dozen AMDGPU_INFO queries and reads
/// amdgpu.ids, none of which a copy needs.
/// </summary>
internal sealed unsafe class SdmaEngine : IDisposable
{
    /// <summary>The staging buffer: the most one COPY_LINEAR moves.</summary>
    public const ulong StagingBytes = AmdgpuCs.CopyLinearMaxBytes;

    private const ulong IbBytes = AmdgpuGem.GpuPageSize;
    private const ulong StagingVa = 1UL << 36, IbVa = StagingVa + StagingBytes, FirstBoVa = IbVa + (1UL << 21);

    /// <summary>AMDGPU_TIMEOUT_INFINITE: the kernel's job timeout ends a hung copy with an error instead.</summary>
    private const ulong WaitForever = ulong.MaxValue;

    private readonly object _lock = new();
    private readonly Dictionary<uint, int> _importRefs = new();
    private readonly uint _ctx, _staging, _ib;
    private readonly MmapBoMapping _stagingMap, _ibMap;
    private ulong _nextVa = FirstBoVa;
    private int _fd;

    private SdmaEngine(int fd, string device, uint ctx, uint staging, uint ib, MmapBoMapping stagingMap, MmapBoMapping ibMap)
    {
        _fd = fd;
        Device = device;
        _ctx = ctx;
        _staging = staging;
        _ib = ib;
        _stagingMap = stagingMap;
        _ibMap = ibMap;
    }

    public string Device { get; }

    /// <summary>Opens <paramref name="device"/> (a render node) and sets up the context, staging and IB buffers.</summary>
    public static SdmaEngine Open(string device)
    {
        var fd = Libc.Open(device, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0) throw new DriverException(Libc.LastErrno, "open", device, detail: "the copy engine needs a render file of the checkpointer's own");
        MmapBoMapping? stagingMap = null;
        try
        {
            var ctx = new DrmAmdgpuCtx { op = AmdgpuCs.CtxOpAllocCtx };
            DeviceIoctl.Call(fd, DrmIoctls.AmdgpuCtx, ref ctx).Check("AMDGPU_CTX(ALLOC_CTX)", device);
            var staging = CreateGtt(fd, device, StagingBytes, "SDMA staging buffer");
            var ib = CreateGtt(fd, device, IbBytes, "SDMA IB");
            MapVa(fd, device, staging, StagingVa, StagingBytes, "SDMA staging buffer");
            MapVa(fd, device, ib, IbVa, IbBytes, "SDMA IB");
            stagingMap = CpuMap(fd, device, staging, StagingBytes, "SDMA staging buffer");
            var ibMap = CpuMap(fd, device, ib, IbBytes, "SDMA IB");
            return new SdmaEngine(fd, device, ctx.AllocatedCtxId, staging, ib, stagingMap, ibMap);
        }
        catch
        {
            // Closing the file frees its context, BOs and VM with it: the error above is the one to report.
            stagingMap?.Dispose();
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>Reaches the BO behind <paramref name="dmabufFd"/> through this engine: imported and mapped into the VM until disposed.</summary>
    public IBoMapping Import(int dmabufFd, ulong size, bool writable)
    {
        lock (_lock)
        {
            var fd = Fd;
            var prime = new DrmPrimeHandle { fd = dmabufFd };
            DeviceIoctl.Call(fd, DrmIoctls.PrimeFdToHandle, ref prime).Check("PRIME_FD_TO_HANDLE", Device, $"dmabuf fd {dmabufFd}");
            // Importing one buffer twice on a file gives the same handle; it is closed once its last user is done.
            _importRefs[prime.handle] = _importRefs.GetValueOrDefault(prime.handle) + 1;
            var length = PageAlign(Math.Max(size, 1));
            var va = _nextVa;
            try
            {
                MapVa(fd, Device, prime.handle, va, length, $"dmabuf fd {dmabufFd}");
            }
            catch
            {
                Release(prime.handle);
                throw;
            }
            _nextVa += length + (1UL << 21); // a guard gap: a copy past the BO's end faults instead of reaching the next
            return new SdmaBoMapping(this, prime.handle, va, length, size, writable, $"dmabuf fd {dmabufFd}");
        }
    }

    /// <summary>Copies [<paramref name="offset"/>, +destination) of the BO at <paramref name="va"/> to <paramref name="destination"/>, a staging buffer at a time.</summary>
    internal void Read(uint handle, ulong va, ulong offset, Span<byte> destination, string bo)
    {
        lock (_lock)
        {
            for (var done = 0; done < destination.Length;)
            {
                var n = (int)Math.Min(StagingBytes, (ulong)(destination.Length - done));
                Copy(va + offset + (ulong)done, StagingVa, (ulong)n, handle, bo);
                _stagingMap.Read(0, destination.Slice(done, n));
                done += n;
            }
        }
    }

    internal void Write(uint handle, ulong va, ulong offset, ReadOnlySpan<byte> source, string bo)
    {
        lock (_lock)
        {
            for (var done = 0; done < source.Length;)
            {
                var n = (int)Math.Min(StagingBytes, (ulong)(source.Length - done));
                _stagingMap.Write(0, source.Slice(done, n));
                Copy(StagingVa, va + offset + (ulong)done, (ulong)n, handle, bo);
                done += n;
            }
        }
    }

    /// <summary>Unmaps an imported BO from the VM and lets go of its handle.</summary>
    internal void Unmap(uint handle, ulong va, ulong length, string bo)
    {
        lock (_lock)
        {
            var fd = Volatile.Read(ref _fd);
            if (fd < 0) return; // the file is closed: its VM and handles went with it
            var unmap = new DrmAmdgpuGemVa { handle = handle, operation = AmdgpuGem.VaOpUnmap, va_address = va, map_size = length };
            var rc = DeviceIoctl.Call(fd, DrmIoctls.AmdgpuGemVa, ref unmap);
            Release(handle);
            rc.Check("GEM_VA(UNMAP)", Device, bo);
        }
    }

    /// <summary>One COPY_LINEAR from <paramref name="src"/> to <paramref name="dst"/>, submitted to SDMA ring 0 and waited for.</summary>
    private void Copy(ulong src, ulong dst, ulong bytes, uint handle, string bo)
    {
        var fd = Fd;
        Span<uint> packet =
        [
            AmdgpuCs.SdmaHeader(AmdgpuCs.SdmaOpCopy, AmdgpuCs.SdmaSubOpCopyLinear), (uint)(bytes - 1), 0,
            (uint)src, (uint)(src >> 32), (uint)dst, (uint)(dst >> 32),
            AmdgpuCs.SdmaHeader(AmdgpuCs.SdmaOpNop, 0),
        ];
        _ibMap.Write(0, System.Runtime.InteropServices.MemoryMarshal.AsBytes(packet));

        var ib = new DrmAmdgpuCsChunkIb { va_start = IbVa, ib_bytes = (uint)(packet.Length * 4), ip_type = AmdgpuCs.HwIpDma };
        var entries = stackalloc DrmAmdgpuBoListEntry[3];
        entries[0] = new DrmAmdgpuBoListEntry { bo_handle = _ib };
        entries[1] = new DrmAmdgpuBoListEntry { bo_handle = _staging };
        entries[2] = new DrmAmdgpuBoListEntry { bo_handle = handle };
        var list = new DrmAmdgpuBoListIn { bo_number = 3, bo_info_size = (uint)sizeof(DrmAmdgpuBoListEntry), bo_info_ptr = (ulong)entries };
        var chunks = stackalloc DrmAmdgpuCsChunk[2];
        chunks[0] = new DrmAmdgpuCsChunk { chunk_id = AmdgpuCs.ChunkIdIb, length_dw = (uint)(sizeof(DrmAmdgpuCsChunkIb) / 4), chunk_data = (ulong)&ib };
        chunks[1] = new DrmAmdgpuCsChunk { chunk_id = AmdgpuCs.ChunkIdBoHandles, length_dw = (uint)(sizeof(DrmAmdgpuBoListIn) / 4), chunk_data = (ulong)&list };
        var pointers = stackalloc ulong[2];
        pointers[0] = (ulong)&chunks[0];
        pointers[1] = (ulong)&chunks[1];
        var cs = new DrmAmdgpuCs { ctx_id = _ctx, num_chunks = 2, chunks = (ulong)pointers };
        DeviceIoctl.Call(fd, DrmIoctls.AmdgpuCs, ref cs).Check("AMDGPU_CS(SDMA COPY_LINEAR)", Device, bo);

        var wait = new DrmAmdgpuWaitCs { handle = cs.Handle, timeout = WaitForever, ip_type = AmdgpuCs.HwIpDma, ctx_id = _ctx };
        DeviceIoctl.Call(fd, DrmIoctls.AmdgpuWaitCs, ref wait).Check("AMDGPU_WAIT_CS", Device, bo);
        if (wait.Status != 0)
            throw new DriverException(Errno.ETIMEDOUT, "AMDGPU_WAIT_CS", Device, bo, $"the copy of {bytes} bytes (0x{src:x} to 0x{dst:x}) has not completed");
    }

    private void Release(uint handle)
    {
        if (--_importRefs[handle] > 0) return;
        _importRefs.Remove(handle);
        var close = new DrmGemClose { handle = handle };
        DeviceIoctl.Call(Fd, DrmIoctls.GemClose, ref close).Check("GEM_CLOSE", Device, $"handle {handle}");
    }

    private int Fd
    {
        get
        {
            var fd = Volatile.Read(ref _fd);
            ObjectDisposedException.ThrowIf(fd < 0, this);
            return fd;
        }
    }

    private static ulong PageAlign(ulong size) => checked((size + AmdgpuGem.GpuPageSize - 1) & ~(AmdgpuGem.GpuPageSize - 1));

    private static uint CreateGtt(int fd, string device, ulong size, string what)
    {
        var create = new DrmAmdgpuGemCreate { bo_size = size, alignment = AmdgpuGem.GpuPageSize, domains = AmdgpuGem.DomainGtt };
        DeviceIoctl.Call(fd, DrmIoctls.AmdgpuGemCreate, ref create).Check("GEM_CREATE", device, what);
        return create.handle;
    }

    private static void MapVa(int fd, string device, uint handle, ulong va, ulong size, string what)
    {
        var map = new DrmAmdgpuGemVa
        {
            handle = handle, operation = AmdgpuGem.VaOpMap, va_address = va, map_size = size,
            flags = AmdgpuGem.VmPageReadable | AmdgpuGem.VmPageWriteable | AmdgpuGem.VmPageExecutable,
        };
        DeviceIoctl.Call(fd, DrmIoctls.AmdgpuGemVa, ref map).Check("GEM_VA(MAP)", device, $"{what} at 0x{va:x}");
    }

    private static MmapBoMapping CpuMap(int fd, string device, uint handle, ulong size, string what)
    {
        var mmap = new DrmAmdgpuGemMmap { handle = handle };
        DeviceIoctl.Call(fd, DrmIoctls.AmdgpuGemMmap, ref mmap).Check("GEM_MMAP", device, what);
        return MmapBoMapping.Map(fd, device, mmap.addr_ptr, size, writable: true);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            var fd = Interlocked.Exchange(ref _fd, -1);
            if (fd < 0) return;
            _stagingMap.Dispose();
            _ibMap.Dispose();
            if (Libc.Close(fd) != 0) throw new DriverException(Libc.LastErrno, "close", Device);
        }
    }
}
