using Gpuckpt.Simulator.Memory;
using Gpuckpt.Simulator.Workloads;

namespace Gpuckpt.Simulator.Model;

/// <summary>A GPU the process uses: the id the process knows it by, and the GPU it actually runs on.</summary>
internal sealed record DeviceBinding(uint UserGpuId, SimGpu Gpu);

/// <summary>The driver-side state of one simulated GPU process.</summary>
internal sealed class SimProcess(uint pid, ProcessPhase phase)
{
    public uint Pid { get; } = pid;
    public ProcessPhase Phase { get; set; } = phase;
    public List<DeviceBinding> Devices { get; } = [];
    public List<KfdBo> KfdBos { get; } = [];
    /// <summary>The open render files by node and, within a node, by the order they were opened (each its own handles and VM).</summary>
    public SortedDictionary<(uint Minor, int Index), RenderFile> RenderFiles { get; } = new();
    public WorkloadProgram? Program { get; set; }
    public uint Objects { get; set; }

    /// <summary>The tag a restore created this target with, so that a restarted engine can find it.</summary>
    public string? Tag { get; init; }

    /// <summary>Evictions not yet undone (the kernel's per-device qpd->evicted): the queues run only at zero.</summary>
    public int Evictions { get; set; }

    /// <summary>The kernel's queues_paused: set by PROCESS_INFO, cleared by the UNPAUSE it allows.</summary>
    public bool QueuesPaused { get; set; }

    public int ProcessInfoCalls, CheckpointCalls, UnpauseCalls, RestoreCalls, ResumeCalls;

    public ProcessCounters Counters => new(ProcessInfoCalls, CheckpointCalls, UnpauseCalls, RestoreCalls, ResumeCalls, Evictions);

    /// <summary>The id this process knows <paramref name="gpu"/> by (its own id until a RESTORE maps another onto it).</summary>
    public uint UserIdOf(SimGpu gpu) => Devices.FirstOrDefault(d => d.Gpu == gpu)?.UserGpuId ?? gpu.Id;

    /// <summary>The process's file <paramref name="index"/> of <paramref name="gpu"/>'s node (opened if it is not); file 0 is the one KFD uses.</summary>
    public RenderFile RenderFileOf(SimGpu gpu, int index = 0)
    {
        if (!RenderFiles.TryGetValue((gpu.Minor, index), out var file))
            RenderFiles[(gpu.Minor, index)] = file = new RenderFile(gpu, index);
        return file;
    }

    /// <summary>Every BO by stable identity, for binding the program and for the digest.</summary>
    public Dictionary<BoRef, SimBuffer> BuffersByRef()
    {
        var map = new Dictionary<BoRef, SimBuffer>();
        foreach (var bo in KfdBos)
            if (bo.Buffer is not null)
                map[new BoRef(BoKind.Kfd, UserIdOf(bo.Gpu), bo.Addr)] = bo.Buffer;
        foreach (var file in RenderFiles.Values)
        {
            var user = UserIdOf(file.Gpu);
            foreach (var bo in file.Handles.Values)
                map[new BoRef(BoKind.Render, user, RenderId(file.Index, bo.Handle))] = bo.Buffer;
        }
        return map;
    }

    /// <summary>A render BO's stable id: its handle, and above it which file of its node holds it (handles repeat between files).</summary>
    public static ulong RenderId(int fileIndex, uint handle) => ((ulong)(uint)fileIndex << 32) | handle;

    /// <summary>The process is gone: every handle lets go of its memory (imports elsewhere keep theirs alive).</summary>
    public void ReleaseAll()
    {
        foreach (var bo in KfdBos) bo.Buffer?.Release();
        KfdBos.Clear();
        foreach (var file in RenderFiles.Values)
            foreach (var bo in file.Handles.Values)
                bo.Buffer.Release();
        RenderFiles.Clear();
    }
}
