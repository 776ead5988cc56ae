using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Model;

// AMDKFD_IOC_CRIU_OP with the kernel's sequence rules.
internal sealed partial class SimulatedDriver
{
    public const uint KfdMajorVersion = 1, KfdMinorVersion = 14;

    public void OpenKfd(uint pid) => Process(pid);

    /// <summary>One CRIU op of process <paramref name="pid"/>; the spans are the arrays args points to.</summary>
    public void KfdCriu(FdTable fds, uint pid, ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> priv)
    {
        var p = Process(pid);
        switch ((KfdCriuOp)args.op)
        {
            case KfdCriuOp.ProcessInfo:
                p.ProcessInfoCalls++;
                Trip(pid, SimOp.ProcessInfo);
                ProcessInfo(p, ref args);
                break;
            case KfdCriuOp.Checkpoint:
                p.CheckpointCalls++;
                Trip(pid, SimOp.Checkpoint);
                Checkpoint(fds, p, ref args, devices, bos, priv);
                break;
            case KfdCriuOp.Unpause:
                Trip(pid, SimOp.Unpause);
                // The kernel's queues_paused flag: one UNPAUSE per PROCESS_INFO that set it, however many evictions are counted.
                if (!p.QueuesPaused) throw new SimError(Errno.EINVAL, $"UNPAUSE: process {pid} is {Describe(p.Phase)} and not paused by PROCESS_INFO");
                p.QueuesPaused = false;
                // Restoring the queues drops one eviction; they run again only when none is left.
                if (--p.Evictions == 0) p.Phase = ProcessPhase.Running;
                p.UnpauseCalls++;
                break;
            case KfdCriuOp.Restore:
                p.RestoreCalls++;
                Trip(pid, SimOp.Restore);
                Restore(fds, p, ref args, devices, bos, priv);
                break;
            case KfdCriuOp.Resume:
                Trip(pid, SimOp.Resume);
                if (p.Phase != ProcessPhase.Restored) throw new SimError(Errno.EINVAL, $"RESUME: process {pid} is {Describe(p.Phase)}");
                Bind(p, p.Program ?? throw new SimError(Errno.EINVAL, $"RESUME: process {pid} has no queue state"), "RESUME");
                p.Phase = ProcessPhase.Running;
                p.ResumeCalls++;
                // The restore wrote the buffers through the memory file, unseen by the clock: they count as written now.
                foreach (var buffer in p.BuffersByRef().Values) buffer.WrittenAt = GpuMemory.Tick();
                break;
            default:
                throw new SimError(Errno.EINVAL, $"unknown CRIU op {args.op}");
        }
    }

    private static void ProcessInfo(SimProcess p, ref KfdIoctlCriuArgs args)
    {
        if (p.Phase is not (ProcessPhase.Running or ProcessPhase.Paused))
            throw new SimError(Errno.EINVAL, $"PROCESS_INFO: process {p.Pid} is {Describe(p.Phase)}");
        // As kfd_process_evict_queues: every PROCESS_INFO counts one more eviction, asked again or not.
        p.Evictions++;
        p.QueuesPaused = true;
        p.Phase = ProcessPhase.Paused;
        args.num_devices = (uint)p.Devices.Count;
        args.num_bos = (uint)p.KfdBos.Count;
        args.num_objects = p.Objects;
        args.priv_data_size = (ulong)(p.Program?.EncodedSize ?? 0);
        args.pid = p.Pid;
    }

    private static void Checkpoint(FdTable fds, SimProcess p, ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> priv)
    {
        if (!p.QueuesPaused)
            throw new SimError(Errno.EINVAL, $"CHECKPOINT: process {p.Pid} is {Describe(p.Phase)} and not paused by PROCESS_INFO; PROCESS_INFO must come first");
        var privData = p.Program?.Encode() ?? [];
        if (args.num_devices != p.Devices.Count || args.num_bos != p.KfdBos.Count || args.priv_data_size != (ulong)privData.Length)
            throw new SimError(Errno.EINVAL,
                $"CHECKPOINT: num_devices {args.num_devices}, num_bos {args.num_bos}, priv_data_size {args.priv_data_size} do not match PROCESS_INFO's {p.Devices.Count}, {p.KfdBos.Count}, {privData.Length}");
        if (devices.Length < p.Devices.Count || bos.Length < p.KfdBos.Count || priv.Length < privData.Length)
            throw new SimError(Errno.EFAULT, "CHECKPOINT: arrays shorter than the counts");
        for (var i = 0; i < p.Devices.Count; i++)
            devices[i] = new KfdCriuDeviceBucket { user_gpu_id = p.Devices[i].UserGpuId, actual_gpu_id = p.Devices[i].Gpu.Id };
        for (var i = 0; i < p.KfdBos.Count; i++)
        {
            var bo = p.KfdBos[i];
            bos[i] = new KfdCriuBoBucket
            {
                addr = bo.Addr, size = bo.Size, offset = bo.Offset, gpu_id = p.UserIdOf(bo.Gpu), alloc_flags = (uint)bo.Flags,
                dmabuf_fd = bo.Buffer is null ? uint.MaxValue : (uint)fds.AddDmabuf(bo.Buffer),
            };
        }
        privData.CopyTo(priv);
        args.num_objects = p.Objects;
    }

    private void Restore(FdTable fds, SimProcess p, ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> priv)
    {
        if (p.Phase != ProcessPhase.Fresh)
            throw new SimError(Errno.EINVAL, $"RESTORE: process {p.Pid} is {Describe(p.Phase)}; only a new restore target can be restored");
        if (devices.Length < args.num_devices || bos.Length < args.num_bos || (ulong)priv.Length < args.priv_data_size)
            throw new SimError(Errno.EFAULT, "RESTORE: arrays shorter than the counts");

        var map = new Dictionary<uint, SimGpu>();
        for (var i = 0; i < args.num_devices; i++)
        {
            var d = devices[i];
            var gpu = _gpus.FirstOrDefault(g => g.Id == d.actual_gpu_id)
                      ?? throw new SimError(Errno.EINVAL, $"RESTORE: device {i} maps user gpu 0x{d.user_gpu_id:x} to unknown gpu 0x{d.actual_gpu_id:x}");
            if (!map.TryAdd(d.user_gpu_id, gpu)) throw new SimError(Errno.EINVAL, $"RESTORE: user gpu 0x{d.user_gpu_id:x} listed twice");
        }
        var program = WorkloadProgram.Decode(priv[..checked((int)args.priv_data_size)].ToArray());

        // Check everything first, so that a refused RESTORE leaves nothing allocated.
        var need = new Dictionary<SimGpu, ulong>();
        var seen = new HashSet<(uint, ulong)>();
        ulong contentBytes = 0;
        for (var i = 0; i < args.num_bos; i++)
        {
            var b = bos[i];
            if (!map.TryGetValue(b.gpu_id, out var gpu))
                throw new SimError(Errno.EINVAL, $"RESTORE: BO {i} (0x{b.addr:x}) is on user gpu 0x{b.gpu_id:x}, which no device bucket maps");
            if (b.size == 0) throw new SimError(Errno.EINVAL, $"RESTORE: BO {i} (0x{b.addr:x}) has size 0");
            if (!seen.Add((b.gpu_id, b.addr))) throw new SimError(Errno.EINVAL, $"RESTORE: BO {i}: address 0x{b.addr:x} on user gpu 0x{b.gpu_id:x} given twice");
            if (!((KfdAllocFlags)b.alloc_flags).HasContents()) continue;
            contentBytes += GpuMemory.PageAlign(b.size);
            if ((b.alloc_flags & (uint)KfdAllocFlags.Vram) != 0)
                need[gpu] = need.GetValueOrDefault(gpu) + GpuMemory.PageAlign(b.size);
        }
        foreach (var (gpu, bytes) in need)
            if (!gpu.Memory.Fits(bytes))
                throw new SimError(Errno.ENOMEM, $"RESTORE: {bytes} bytes of VRAM needed on {gpu}, {gpu.Memory.VramSize - gpu.Memory.VramUsed} free");
        EnsureBackingSpace(contentBytes, Errno.ENOMEM, "RESTORE");

        var created = new List<KfdBo>();
        var newFds = new List<int>();
        try
        {
            for (var i = 0; i < args.num_bos; i++)
            {
                var b = bos[i];
                var gpu = map[b.gpu_id];
                var flags = (KfdAllocFlags)b.alloc_flags;
                KfdBo bo;
                if (flags.HasContents())
                {
                    var buffer = Allocate(gpu, b.size, (flags & KfdAllocFlags.Vram) != 0 ? AmdgpuGem.DomainVram : AmdgpuGem.DomainGtt, KfdDomainFlags(flags), $"RESTORE BO {i}");
                    bo = new KfdBo(gpu, b.addr, b.size, flags, buffer, 0);
                    newFds.Add(fds.AddDmabuf(buffer));
                    b.dmabuf_fd = (uint)newFds[^1];
                }
                else
                {
                    bo = new KfdBo(gpu, b.addr, b.size, flags, null, (flags & KfdAllocFlags.Userptr) != 0 ? b.offset : NextCookie(b.size));
                    b.dmabuf_fd = uint.MaxValue;
                }
                created.Add(bo);
                b.restored_offset = bo.Offset;
                bos[i] = b;
            }
        }
        catch
        {
            foreach (var fd in newFds) fds.Close(fd);
            foreach (var bo in created) bo.Buffer?.Release();
            throw;
        }
        for (var i = 0; i < args.num_devices; i++) p.Devices.Add(new DeviceBinding(devices[i].user_gpu_id, map[devices[i].user_gpu_id]));
        p.KfdBos.AddRange(created);
        p.Program = program;
        p.Objects = args.num_objects;
        p.Phase = ProcessPhase.Restored;
    }
}
