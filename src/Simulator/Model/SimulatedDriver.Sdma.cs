using System.Buffers.Binary;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Model;

// Command submission to the copy engine (SDMA) of a render file: contexts, CS with IBs of COPY_LINEAR packets that move
// bytes between the GPU VAs of the file's VM, and WAIT_CS on their fences.
internal sealed partial class SimulatedDriver
{
    public void Ctx(FdTable fds, int fd, ref DrmAmdgpuCtx args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.Ctx);
        switch (args.op)
        {
            case AmdgpuCs.CtxOpAllocCtx:
                var id = ++file.LastContext;
                file.Contexts.Add(id);
                file.Submitted[id] = 0;
                args = default;
                args.op = id; // out.alloc.ctx_id
                break;
            case AmdgpuCs.CtxOpFreeCtx:
                if (!file.Contexts.Remove(args.ctx_id)) throw new SimError(Errno.EINVAL, $"CTX free: no context {args.ctx_id} on renderD{file.Gpu.Minor}");
                args = default;
                break;
            default:
                throw new SimError(Errno.EINVAL, $"CTX: op {args.op} is not simulated");
        }
    }

    /// <summary>
    /// DRM_AMDGPU_CS with its chunks as the emulated kernel read them from the caller: the IB chunks and the BO list.
    /// The job runs at once; a packet that touches an address no mapping holds faults the job, which its WAIT_CS reports.
    /// </summary>
    public void CommandSubmit(FdTable fds, int fd, ref DrmAmdgpuCs args, IReadOnlyList<DrmAmdgpuCsChunkIb> ibs, IReadOnlyList<uint> boHandles)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.CommandSubmit);
        if (!file.Contexts.Contains(args.ctx_id)) throw new SimError(Errno.EINVAL, $"CS: no context {args.ctx_id} on renderD{file.Gpu.Minor}");
        if (ibs.Count == 0) throw new SimError(Errno.EINVAL, "CS: no IB chunk");
        foreach (var handle in boHandles) Handle(file, handle, "CS BO list");
        foreach (var ib in ibs)
        {
            if (ib.ip_type != AmdgpuCs.HwIpDma || ib.ip_instance != 0 || ib.ring != 0)
                throw new SimError(Errno.EINVAL, $"CS: IP type {ib.ip_type} instance {ib.ip_instance} ring {ib.ring}: only SDMA ring 0 is simulated");
            if (ib.ib_bytes == 0 || ib.ib_bytes % 4 != 0) throw new SimError(Errno.EINVAL, $"CS: IB of {ib.ib_bytes} bytes");
        }
        var seq = ++file.Submitted[args.ctx_id];
        foreach (var ib in ibs)
        {
            if (RunIb(file, ib) is { } fault)
            {
                file.FailedJobs[(args.ctx_id, seq)] = fault;
                break;
            }
        }
        args = default;
        args.ctx_id = (uint)seq; // out.handle, low half
        args.bo_list_handle = (uint)(seq >> 32);
    }

    public void WaitCs(FdTable fds, int fd, ref DrmAmdgpuWaitCs args)
    {
        var (_, file) = RenderOf(fds, fd, SimOp.WaitCs);
        if (!file.Contexts.Contains(args.ctx_id)) throw new SimError(Errno.EINVAL, $"WAIT_CS: no context {args.ctx_id} on renderD{file.Gpu.Minor}");
        if (args.handle == 0 || args.handle > file.Submitted[args.ctx_id])
            throw new SimError(Errno.EINVAL, $"WAIT_CS: context {args.ctx_id} has submitted {file.Submitted[args.ctx_id]} jobs, not {args.handle}");
        // The job's fence carries its error: a job the GPU faulted in is cancelled, and WAIT_CS returns that error.
        if (file.FailedJobs.TryGetValue((args.ctx_id, args.handle), out var fault))
            throw new SimError(Errno.ECANCELED, $"WAIT_CS: job {args.handle} of context {args.ctx_id} faulted: {fault}");
        args = default; // out.status 0: completed
    }

    /// <summary>Runs one IB's SDMA packets; the fault that stopped it, or null.</summary>
    private static string? RunIb(RenderFile file, DrmAmdgpuCsChunkIb ib)
    {
        var code = new byte[ib.ib_bytes];
        if (Move(file, ib.va_start, code, read: true) is { } unreadable) return $"IB at 0x{ib.va_start:x}: {unreadable}";
        var dw = new uint[code.Length / 4];
        for (var i = 0; i < dw.Length; i++) dw[i] = BinaryPrimitives.ReadUInt32LittleEndian(code.AsSpan(i * 4));
        for (var i = 0; i < dw.Length;)
        {
            var op = dw[i] & 0xff;
            var subOp = (dw[i] >> 8) & 0xff;
            if (op == AmdgpuCs.SdmaOpNop)
            {
                i += 1 + (int)((dw[i] >> 16) & 0x3fff);
                continue;
            }
            if (op != AmdgpuCs.SdmaOpCopy || subOp != AmdgpuCs.SdmaSubOpCopyLinear || i + AmdgpuCs.CopyLinearDwords > dw.Length)
                return $"IB at 0x{ib.va_start:x}: dword {i} (0x{dw[i]:x8}) is no packet the SDMA engine runs here";
            var bytes = (ulong)(dw[i + 1] & 0x3fffff) + 1;
            var src = dw[i + 3] | (ulong)dw[i + 4] << 32;
            var dst = dw[i + 5] | (ulong)dw[i + 6] << 32;
            var data = new byte[bytes];
            if (Move(file, src, data, read: true) is { } readFault) return $"COPY_LINEAR source: {readFault}";
            if (Move(file, dst, data, read: false) is { } writeFault) return $"COPY_LINEAR destination: {writeFault}";
            i += AmdgpuCs.CopyLinearDwords;
        }
        return null;
    }

    /// <summary>Reads or writes <paramref name="data"/> at GPU VA <paramref name="va"/> through the file's VM; the unmapped address, or null.</summary>
    private static string? Move(RenderFile file, ulong va, Span<byte> data, bool read)
    {
        var done = 0;
        while (done < data.Length)
        {
            var at = va + (ulong)done;
            if (file.Resolve(at) is not { } hit) return $"GPU page fault at 0x{at:x}: no BO is mapped there in renderD{file.Gpu.Minor}'s VM";
            var n = (int)Math.Min((ulong)(data.Length - done), hit.Left);
            var bytes = hit.Bo.Buffer.Bytes(hit.Offset, n);
            if (read) bytes.CopyTo(data.Slice(done, n));
            else data.Slice(done, n).CopyTo(bytes);
            done += n;
        }
        return null;
    }
}
