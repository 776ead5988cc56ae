using System.IO.Hashing;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Model;

/// <summary>
/// The simulated GPU driver: GPUs, processes, their KFD and render-node state, with the kernel's op semantics.
/// Not thread-safe: the server holds <see cref="Lock"/> around every call. Failures throw <see cref="SimError"/>.
/// </summary>
internal sealed partial class SimulatedDriver : IDisposable
{
    private const uint FirstPid = 1000;
    private const ulong KfdVaBase = 0x7f00_0000_0000UL, RenderVaBase = 0x4_0000_0000UL;
    private const ulong CookieBase = 0xd000_0000_0000UL; // mmap offsets of BOs without memory (doorbell, MMIO)

    private readonly List<SimGpu> _gpus = [];
    private readonly Dictionary<uint, SimProcess> _processes = new();
    private readonly ISimFaults? _faults = SimFaultHooks.Create();
    private uint _nextPid = FirstPid;
    private ulong _nextBufferId = 1;
    private ulong _nextCookie = CookieBase;

    public SimulatedDriver(GpuTopology topology, string memoryDir, ulong residentVram = 0)
    {
        Topology = topology;
        MemoryDir = memoryDir;
        foreach (var node in topology.Gpus)
        {
            var memory = new GpuMemory(Path.Combine(memoryDir, $"renderD{node.DrmRenderMinor}.mem"), node.VramSize);
            _gpus.Add(new SimGpu(node, memory));
            memory.MakeResident(residentVram);
        }
    }

    public FairLock Lock { get; } = new();
    public GpuTopology Topology { get; }
    public string MemoryDir { get; }

    public void Dispose()
    {
        foreach (var p in _processes.Values) p.ReleaseAll();
        _processes.Clear();
        foreach (var g in _gpus) g.Dispose();
    }

    // ---- processes -------------------------------------------------------------------------------------------

    public SimProcess Process(uint pid) =>
        _processes.TryGetValue(pid, out var p) ? p : throw new SimError(Errno.ESRCH, $"no process {pid}");

    public uint CreateRestoreTarget(string? tag = null)
    {
        var p = new SimProcess(_nextPid++, ProcessPhase.Fresh) { Tag = tag };
        _processes[p.Pid] = p;
        return p.Pid;
    }

    /// <summary>The live processes created as restore targets with <paramref name="tag"/>.</summary>
    public IReadOnlyList<uint> RestoreTargetsTagged(string tag) =>
        [.. _processes.Values.Where(p => p.Tag == tag).Select(p => p.Pid).Order()];

    public void Kill(uint pid)
    {
        var p = Process(pid);
        _processes.Remove(pid);
        p.ReleaseAll();
    }

    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => Process(pid).RenderFiles.Keys.Select(k => k.Minor).Distinct().ToList();

    /// <summary>Every open render file of a process: node and index, in order.</summary>
    public IReadOnlyList<(uint Minor, int Index)> RenderFilesOpenedBy(uint pid) => Process(pid).RenderFiles.Keys.ToList();

    // ---- faults and delays -------------------------------------------------------------------------------------

    public void InjectFault(SimFault fault)
    {
        if (_faults is null) throw new SimError(Errno.EPERM, "fault injection is a test-build feature: this simulator has none");
        _faults.Arm(fault);
    }

    /// <summary>Throws the injected errno when a test build armed a fault for this call.</summary>
    private void Trip(uint pid, SimOp op)
    {
        if (_faults?.Trip(pid, op) is { } errno) throw new SimError(errno, $"injected fault on {op} of process {pid}");
    }

    public void SetCopyDelay(uint gpuId, uint microsPerMiB) => GpuById(gpuId).CopyDelayMicrosPerMiB = microsPerMiB;

    private SimGpu GpuById(uint id) =>
        _gpus.FirstOrDefault(g => g.Id == id) ?? throw new SimError(Errno.EINVAL, $"no GPU with id 0x{id:x}");

    private SimGpu GpuByMinor(uint minor) =>
        _gpus.FirstOrDefault(g => g.Minor == minor) ?? throw new SimError(Errno.ENODEV, $"no render node renderD{minor}");

    // ---- BO memory ---------------------------------------------------------------------------------------------

    private SimBuffer Allocate(SimGpu gpu, ulong size, uint domains, ulong domainFlags, string owner, ulong pageAlignment = 1) =>
        gpu.Memory.Allocate(size, domains, domainFlags, _nextBufferId++, owner, pageAlignment).AddRef();

    /// <summary>
    /// The amdgpu BO flags KFD allocates with (amdgpu_amdkfd_gpuvm_alloc_memory_of_gpu): a VRAM BO without
    /// KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC gets AMDGPU_GEM_CREATE_NO_CPU_ACCESS.
    /// </summary>
    private static ulong KfdDomainFlags(KfdAllocFlags flags) =>
        (flags & (KfdAllocFlags.Vram | KfdAllocFlags.Public)) == KfdAllocFlags.Vram ? AmdgpuGem.CreateNoCpuAccess : 0;

    /// <summary>The kernel's page_alignment for a GEM_CREATE alignment in bytes: rounded up to whole pages.</summary>
    private static ulong PageAlignment(ulong alignmentBytes) => (alignmentBytes + GpuMemory.PageSize - 1) / GpuMemory.PageSize;

    /// <summary>Where the engine maps [offset, offset+size) of renderD{minor}: the memory file and the copy delay.</summary>
    public (string Path, uint MicrosPerMiB) MapInfo(uint minor, ulong offset, ulong size)
    {
        Trip(0, SimOp.MapBo);
        var gpu = GpuByMinor(minor);
        var buffer = gpu.Memory.Find(offset, size) ?? throw new SimError(Errno.EINVAL, $"renderD{minor}: no BO holds [0x{offset:x}, 0x{offset + size:x})");
        // As mmap of a BO created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS: the CPU never reaches it.
        if (!buffer.CpuAccessible)
            throw new SimError(Errno.EPERM, $"renderD{minor}: the BO at 0x{offset:x} was created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS");
        return (gpu.Memory.Path, gpu.CopyDelayMicrosPerMiB);
    }

    /// <summary>Where the copy engine finds the BO behind dmabuf <paramref name="fd"/>: its memory file and offset there, and the copy delay.</summary>
    public (string Path, ulong Offset, uint MicrosPerMiB) CopyInfo(FdTable fds, int fd, uint minor, ulong size)
    {
        var buffer = fds.Dmabuf(fd);
        var gpu = GpuByMinor(minor);
        if (buffer.Memory != gpu.Memory)
            throw new SimError(Errno.EINVAL, $"SDMA on renderD{minor}: dmabuf fd {fd} is memory of another GPU");
        if (size > buffer.Size)
            throw new SimError(Errno.EINVAL, $"SDMA on renderD{minor}: {size} bytes asked of a {buffer.Size}-byte BO (dmabuf fd {fd})");
        return (gpu.Memory.Path, buffer.Offset, gpu.CopyDelayMicrosPerMiB);
    }

    public ulong DmabufInode(FdTable fds, int fd) => fds.Dmabuf(fd).Id;

    // ---- spawn, run, state ---------------------------------------------------------------------------------------

    public uint Spawn(WorkloadSpec spec, ulong seed)
    {
        if (spec.Gpus < 1 || spec.Gpus > _gpus.Count)
            throw new SimError(Errno.EINVAL, $"workload wants {spec.Gpus} GPUs, the simulator has {_gpus.Count}");
        var p = new SimProcess(_nextPid++, ProcessPhase.Running);
        try
        {
            Build(p, spec, seed);
        }
        catch
        {
            p.ReleaseAll();
            throw;
        }
        _processes[p.Pid] = p;
        return p.Pid;
    }

    /// <summary>
    /// Refuses work whose BO memory the memory directory's file system cannot hold: touching pages of a sparse file
    /// beyond a full tmpfs kills the toucher with SIGBUS instead of failing a call.
    /// </summary>
    private void EnsureBackingSpace(ulong bytes, int errno, string op)
    {
        var free = (ulong)new DriveInfo(MemoryDir).AvailableFreeSpace;
        if (bytes > free)
            throw new SimError(errno, $"{op}: {bytes} bytes of BO memory wanted, {MemoryDir} has {free} free");
    }

    private void Build(SimProcess p, WorkloadSpec spec, ulong seed)
    {
        var contentBytes = spec.KfdBos.Where(b => b.Domain is "vram" or "gtt").Aggregate(0UL, (sum, b) => checked(sum + GpuMemory.PageAlign(b.Size)))
                           + spec.RenderBos.Where(r => r.Import is null).Aggregate(0UL, (sum, r) => checked(sum + GpuMemory.PageAlign(r.Size)));
        EnsureBackingSpace(contentBytes, Errno.ENOSPC, "spawn");
        for (var g = 0; g < spec.Gpus; g++)
        {
            p.Devices.Add(new DeviceBinding(_gpus[g].Id, _gpus[g]));
            p.RenderFileOf(_gpus[g]);
        }
        SimGpu Gpu(int index, string what) => index >= 0 && index < spec.Gpus
            ? _gpus[index]
            : throw new SimError(Errno.EINVAL, $"{what}: gpu {index} is not one of the workload's {spec.Gpus}");

        var refs = new Dictionary<string, (BoRef Ref, SimBuffer? Buffer, bool Target)>();
        var va = KfdVaBase;
        for (var i = 0; i < spec.KfdBos.Count; i++)
        {
            var s = spec.KfdBos[i];
            var name = $"kfd:{i}";
            var gpu = Gpu(s.Gpu, name);
            if (s.Size == 0) throw new SimError(Errno.EINVAL, $"{name}: zero size");
            var flags = s.Domain switch
            {
                "vram" => KfdAllocFlags.Vram,
                "gtt" => KfdAllocFlags.Gtt,
                "userptr" => KfdAllocFlags.Userptr,
                "doorbell" => KfdAllocFlags.Doorbell,
                "mmio" => KfdAllocFlags.MmioRemap,
                _ => throw new SimError(Errno.EINVAL, $"{name}: unknown domain '{s.Domain}' (vram, gtt, userptr, doorbell, mmio)"),
            } | (s.Writable ? KfdAllocFlags.Writable : 0) | (s.Executable ? KfdAllocFlags.Executable : 0) | KfdAllocFlags.NoSubstitute;
            if (s.Public && (flags & KfdAllocFlags.Vram) != 0) flags |= KfdAllocFlags.Public;
            SimBuffer? buffer = null;
            if (flags.HasContents())
            {
                buffer = Allocate(gpu, s.Size, (flags & KfdAllocFlags.Vram) != 0 ? AmdgpuGem.DomainVram : AmdgpuGem.DomainGtt, KfdDomainFlags(flags), name);
                p.KfdBos.Add(new KfdBo(gpu, va, s.Size, flags, buffer, 0));
                ContentFill.Fill(buffer, SimTopology.Mix64(seed ^ ((ulong)i << 32) ^ 0x6b6664));
            }
            else
            {
                // Userptr BOs report the CPU address as their offset; doorbell and MMIO BOs a driver cookie.
                var cookie = (flags & KfdAllocFlags.Userptr) != 0 ? 0x5500_0000_0000UL + (va - KfdVaBase) : NextCookie(s.Size);
                p.KfdBos.Add(new KfdBo(gpu, va, s.Size, flags, null, cookie));
            }
            refs[name] = (new BoRef(BoKind.Kfd, gpu.Id, va), buffer, buffer is not null && s.Writable);
            va += GpuMemory.PageAlign(s.Size) + (2UL << 20); // a guard gap between BOs
        }

        for (var i = 0; i < spec.RenderBos.Count; i++)
        {
            var s = spec.RenderBos[i];
            var name = $"render:{i}";
            var gpu = Gpu(s.Gpu, name);
            if (s.File < 0 || (s.File > 0 && !p.RenderFiles.ContainsKey((gpu.Minor, s.File - 1))))
                throw new SimError(Errno.EINVAL, $"{name}: file {s.File} of gpu {s.Gpu} comes before file {s.File - 1} is opened");
            var file = p.RenderFileOf(gpu, s.File);
            RenderBo bo;
            if (s.Import is { } source)
            {
                if (!refs.TryGetValue(source, out var src) || src.Buffer is null)
                    throw new SimError(Errno.EINVAL, $"{name}: imports '{source}', which is not an earlier BO with memory");
                if (file.HolderOf(src.Buffer) is not null)
                    throw new SimError(Errno.EINVAL, $"{name}: '{source}' is already imported on that node");
                bo = new RenderBo(file.NextHandle(), src.Buffer.AddRef(), isImport: true);
            }
            else
            {
                var domains = s.Domain switch
                {
                    "vram" => AmdgpuGem.DomainVram,
                    "gtt" => AmdgpuGem.DomainGtt,
                    _ => throw new SimError(Errno.EINVAL, $"{name}: unknown render domain '{s.Domain}' (vram, gtt)"),
                };
                if (s.NoCpuAccess && domains != AmdgpuGem.DomainVram)
                    throw new SimError(Errno.EINVAL, $"{name}: NO_CPU_ACCESS goes with vram, not {s.Domain}");
                var buffer = Allocate(gpu, s.Size, domains, s.NoCpuAccess ? AmdgpuGem.CreateNoCpuAccess : 0, name, PageAlignment(s.Alignment));
                bo = new RenderBo(file.NextHandle(), buffer, isImport: false);
                ContentFill.Fill(buffer, SimTopology.Mix64(seed ^ ((ulong)i << 32) ^ 0x72656e64));
            }
            file.Add(bo);
            var nodeVa = RenderVaBase + file.VmEnd * GpuMemory.PageSize;
            foreach (var m in s.Mappings)
            {
                Map(file, bo, new DrmAmdgpuGemVa
                {
                    handle = bo.Handle, operation = AmdgpuGem.VaOpMap, flags = m.Flags,
                    va_address = nodeVa, offset_in_bo = m.Offset, map_size = m.Size,
                }, name);
                nodeVa += GpuMemory.PageAlign(m.Size) + GpuMemory.PageSize;
            }
            refs[name] = (new BoRef(BoKind.Render, gpu.Id, SimProcess.RenderId(file.Index, bo.Handle)), bo.Buffer, s.Import is null);
        }

        var links = new List<ProgramLink>();
        if (spec.Links is { } given)
        {
            foreach (var l in given)
            {
                if (!refs.TryGetValue(l.Target, out var t) || !t.Target)
                    throw new SimError(Errno.EINVAL, $"link target '{l.Target}' is not a writable BO with memory");
                links.Add(new ProgramLink(t.Ref, l.Inputs.Select(n =>
                    refs.TryGetValue(n, out var r) && r.Buffer is not null ? r.Ref : throw new SimError(Errno.EINVAL, $"link input '{n}' is not a BO with memory")).ToList()));
            }
        }
        else
        {
            var withMemory = refs.Values.Where(r => r.Buffer is not null).ToList();
            for (var i = 0; i < withMemory.Count; i++)
                if (withMemory[i].Target)
                    links.Add(new ProgramLink(withMemory[i].Ref, [withMemory[(i + withMemory.Count - 1) % withMemory.Count].Ref]));
        }
        if (spec.PrivDataSize < 0) throw new SimError(Errno.EINVAL, "priv_data_size is negative");
        var opaque = new byte[spec.PrivDataSize];
        ContentFill.Fill(opaque, SimTopology.Mix64(seed ^ 0x71756575));
        p.Program = new WorkloadProgram(p.Devices.Select(d => d.UserGpuId).ToList(), links, 0, opaque, spec.Queues + spec.Events);
        p.Objects = spec.Queues + spec.Events;
    }

    private ulong NextCookie(ulong size)
    {
        var c = _nextCookie;
        _nextCookie += GpuMemory.PageAlign(size);
        return c;
    }

    /// <summary>Advances the workload <paramref name="steps"/> steps; EBUSY unless its queues run.</summary>
    public ulong Run(uint pid, ulong steps) => RunSlice(pid, steps, long.MaxValue).Step;

    /// <summary>
    /// Advances the workload up to <paramref name="steps"/> steps, stopping early once <paramref name="ticks"/>
    /// Stopwatch ticks have passed (so a long run can let go of the driver lock between slices); how many ran.
    /// </summary>
    public (ulong Ran, ulong Step) RunSlice(uint pid, ulong steps, long ticks)
    {
        var p = Process(pid);
        if (p.Phase != ProcessPhase.Running)
            throw new SimError(Errno.EBUSY, $"process {pid} is {Describe(p.Phase)}: its queues do not run");
        var program = p.Program ?? throw new SimError(Errno.EINVAL, $"process {pid} has no workload");
        var bound = Bind(p, program, "run");
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        ulong s = 0;
        for (; s < steps && (s == 0 || System.Diagnostics.Stopwatch.GetTimestamp() - start < ticks); s++)
        {
            for (var i = 0; i < bound.Count; i++)
                Mixer.Mix(bound[i].Target, bound[i].Inputs, program.Step, i);
            program.Step++;
        }
        return (s, program.Step);
    }

    private static string Describe(ProcessPhase phase) => phase switch
    {
        ProcessPhase.Paused => "paused",
        ProcessPhase.Fresh => "not restored yet",
        ProcessPhase.Restored => "restored but not resumed",
        _ => "running",
    };

    /// <summary>The program's links with their buffers; EINVAL naming the first BO the process does not have.</summary>
    private static List<(SimBuffer Target, List<SimBuffer> Inputs)> Bind(SimProcess p, WorkloadProgram program, string op)
    {
        var byRef = p.BuffersByRef();
        SimBuffer Find(BoRef r) => byRef.TryGetValue(r, out var b)
            ? b
            : throw new SimError(Errno.EINVAL, $"{op}: the queues of process {p.Pid} use {r}, which was not restored");
        return program.Links.Select(l => (Find(l.Target), l.Inputs.Select(Find).ToList())).ToList();
    }

    /// <summary>
    /// The BOs of <paramref name="pid"/> written after tick <paramref name="since"/> of the write clock. It reads no
    /// contents (unless <paramref name="digests"/> asks for each listed BO's) and leaves the process's phase and counters
    /// alone: a running process keeps running.
    /// </summary>
    public SimDirtySet Dirty(uint pid, ulong since, bool digests = false)
    {
        var p = Process(pid);
        var clock = GpuMemory.WriteClock;
        var seen = new HashSet<ulong>();
        var dirty = new List<SimDirtyBo>();
        ulong total = 0, dirtyBytes = 0;
        foreach (var (bo, buffer) in p.BuffersByRef().OrderBy(x => x.Key.Kind).ThenBy(x => x.Key.UserGpuId).ThenBy(x => x.Key.Key))
        {
            if (!seen.Add(buffer.Id)) continue;
            total += buffer.Size;
            if (buffer.WrittenAt <= since) continue;
            string? digest = null;
            if (digests)
            {
                var hash = new XxHash128();
                AppendContents(hash, buffer);
                digest = Convert.ToHexStringLower(hash.GetCurrentHash());
            }
            dirty.Add(new SimDirtyBo(bo.ToString(), buffer.Size, buffer.WrittenAt, digest, buffer.Id));
            dirtyBytes += buffer.Size;
        }
        return new SimDirtySet(clock, dirty, dirtyBytes, total);
    }

    public SimProcessState State(uint pid)
    {
        var p = Process(pid);
        var hash = new XxHash128();
        var header = new byte[8 * 8];
        void Put(params ReadOnlySpan<ulong> values)
        {
            for (var i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(i * 8), values[i]);
            hash.Append(header.AsSpan(0, values.Length * 8));
        }
        var step = p.Program?.Step ?? 0;
        // GPUs by their place in the workload, so that the same workload on other GPUs has the same digest.
        var order = p.Program?.Gpus.ToList() ?? [];
        ulong GpuKey(uint user) => order.IndexOf(user) is >= 0 and var i ? (ulong)i : (1UL << 32) | user;
        Put(step);
        ulong bytes = 0;
        var bos = 0;
        foreach (var bo in p.KfdBos.OrderBy(b => GpuKey(p.UserIdOf(b.Gpu))).ThenBy(b => b.Addr))
        {
            bos++;
            Put(1, GpuKey(p.UserIdOf(bo.Gpu)), bo.Addr, bo.Size, (ulong)bo.Flags);
            if (bo.Buffer is null) continue;
            AppendContents(hash, bo.Buffer);
            bytes += bo.Size;
        }
        foreach (var (user, file) in p.RenderFiles.Values.Select(f => (GpuKey(p.UserIdOf(f.Gpu)), f)).OrderBy(x => x.Item1).ThenBy(x => x.f.Index))
            foreach (var bo in file.Handles.Values)
            {
                bos++;
                Put(2, user, SimProcess.RenderId(file.Index, bo.Handle), bo.Buffer.Size, bo.Buffer.Domains, bo.Buffer.DomainFlags, bo.IsImport ? 1UL : 0UL);
                foreach (var m in bo.Mappings.OrderBy(m => m.Start)) Put(m.Start, m.Last, m.Offset, m.Flags);
                AppendContents(hash, bo.Buffer);
                if (!bo.IsImport) bytes += bo.Buffer.Size;
            }
        var digest = Convert.ToHexStringLower(hash.GetCurrentHash());
        var gpus = p.Devices.Count > 0 ? p.Devices.Count : p.RenderFiles.Keys.Select(k => k.Minor).Distinct().Count();
        return new SimProcessState(pid, step, digest, p.Phase == ProcessPhase.Paused, p.Phase == ProcessPhase.Running, gpus, bos, bytes, p.Counters);
    }

    private static void AppendContents(XxHash128 hash, SimBuffer buffer)
    {
        const int window = 64 << 20;
        for (ulong at = 0; at < buffer.Size; at += window)
            hash.Append(buffer.Bytes(at, (int)Math.Min(window, buffer.Size - at)));
    }
}
