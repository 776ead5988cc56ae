namespace Gpuckpt.Emulator;

/// <summary>What an emulated kernel should look like: the simulated process each stand-in plays, the KFD version, the checkpointer's capabilities.</summary>
public sealed record EmulatedKernelOptions
{
    /// <summary>Stand-in name (an argument "@name" becomes its pid) and the simulated process it plays.</summary>
    public IReadOnlyList<(string Name, uint SimPid)> Targets { get; init; } = [];
    public uint KfdMinorVersion { get; init; } = 14;
    /// <summary>The command runs without CAP_CHECKPOINT_RESTORE and CAP_SYS_ADMIN.</summary>
    public bool DropCapabilities { get; init; }
    /// <summary>Each stand-in holds a second fd (dup) of every render file, as processes sharing a file do.</summary>
    public bool DupRenderFds { get; init; }

    /// <summary>No /dev/kfd at all, as on a machine without the amdgpu driver.</summary>
    public bool WithoutKfd { get; init; }

    /// <summary>/dev/kfd and the render nodes are character devices CRIU does not know (see EmulatedKernel.Criu.cs).</summary>
    public bool CharacterDevices { get; init; }

    /// <summary>/dev/kfd alone is such a character device; render nodes stay the simulator's memory files, which BO copies mmap.</summary>
    public bool KfdCharacterDevice { get; init; }

    /// <summary>Each stand-in runs two more threads that keep running, as a job's host threads do.</summary>
    public bool ThreadedTargets { get; init; }

    /// <summary>Stand-ins with a CPU counter, by name: each appends its count to its file at every tick (kfdemu --counter).</summary>
    public IReadOnlyDictionary<string, string> Counters { get; init; } = new Dictionary<string, string>();

    /// <summary>DRM requests this kernel does not have (an older one): EINVAL, as drm_ioctl answers a number with no table entry.</summary>
    public IReadOnlyList<uint> AbsentIoctls { get; init; } = [];
}
