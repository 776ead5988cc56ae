using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Devices;

/// <summary>
/// A GPU driver as the engine sees it: the local GPUs and the KFD and render-node files of the processes using them.
/// Shaped like the kernel: ioctl-style calls return 0 or an errno, BO contents are reached through a mapping.
/// Backends: the simulated driver (a separate process behind a Unix socket) and the Linux KFD/DRM devices.
/// </summary>
public interface IGpuDriver : IDisposable
{
    /// <summary>"sim:/path/to/socket" or "kfd".</summary>
    string Name { get; }

    /// <summary>The local GPUs with every property the topology matcher compares.</summary>
    IReadOnlyList<GpuNode> Topology();

    /// <summary>The local CPU nodes of the KFD topology, which images list beside the GPUs (none where a backend knows of none).</summary>
    IReadOnlyList<CpuNode> CpuNodes() => [];

    /// <summary>The KFD file of a (ptrace-attached) target process. Throws DriverException(ESRCH) when it does not exist.</summary>
    IKfdFile OpenKfd(uint pid);

    /// <summary>
    /// Refuses (DriverException), before anything is paused, a process this driver could not checkpoint or whose image
    /// this kernel could not restore: an interface the kernel lacks, named with the kernel that has it.
    /// </summary>
    void CheckCheckpointable(uint pid) { }

    /// <summary>A new, empty process to restore into; its pid.</summary>
    uint CreateRestoreTarget();

    /// <summary>
    /// A new, empty process to restore into, marked with <paramref name="tag"/> (a restore journals the tag before it
    /// creates the process, so that after a crash it finds the process through <see cref="RestoreTargetsTagged"/>).
    /// </summary>
    uint CreateRestoreTarget(string tag) => CreateRestoreTarget();

    /// <summary>The restore targets created with <paramref name="tag"/> that still exist (none where a backend cannot mark them).</summary>
    IReadOnlyList<uint> RestoreTargetsTagged(string tag) => [];

    /// <summary>Throws a restore target away (a failed restore): its BOs and state are freed, it never runs.</summary>
    void DiscardRestoreTarget(uint pid);

    /// <summary>
    /// Ends a process for good (SIGKILL): how a migration releases its source once the copy on the target runs.
    /// Throws DriverException(ESRCH) when it no longer exists.
    /// </summary>
    void KillProcess(uint pid) =>
        throw new DriverException(Errno.EOPNOTSUPP, "kill process", Name, detail: $"this driver cannot end pid {pid}");

    /// <summary>The render-node minors a process has open (on Linux: its /proc/PID/fd links to /dev/dri/renderD*).</summary>
    IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid);

    /// <summary>The render node <paramref name="minor"/> (renderD{minor}) as opened by process <paramref name="pid"/>.</summary>
    IRenderNode OpenRenderNode(uint pid, uint minor);

    /// <summary>Every distinct open render file of a process, by minor (a backend whose processes open each node once: one per minor).</summary>
    IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid) => [.. RenderMinorsOpenedBy(pid).Select(m => new RenderFileRef(m, 0))];

    /// <summary>One of the process's open render files, as <see cref="RenderFilesOpenedBy"/> listed it.</summary>
    IRenderNode OpenRenderFile(uint pid, RenderFileRef file) => file.Index == 0
        ? OpenRenderNode(pid, file.Minor)
        : throw new DriverException(Errno.ENOENT, "open", file.ToString(), detail: $"{Name} opens one file per render node and process");

    /// <summary>Maps a BO through its render node at its mmap offset, as mmap(2) of /dev/dri/renderD{minor} would.</summary>
    IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable);

    /// <summary>
    /// Reaches a BO with the GPU's copy engine (SDMA) instead of a CPU mapping: VRAM that is not host-visible, or on a
    /// small-BAR device. <paramref name="dmabufFd"/> is a dmabuf of the BO the caller holds. A backend whose MapBo
    /// already moves bytes by offset in device memory, as a copy engine does, maps it.
    /// </summary>
    IBoMapping CopyBo(uint renderMinor, int dmabufFd, ulong mmapOffset, ulong size, bool writable) => MapBo(renderMinor, mmapOffset, size, writable);

    /// <summary>
    /// Says which BOs are about to be mapped, one each (the small BOs that share a chunk): a remote driver checks them
    /// all in one call, and the <see cref="MapBo"/> of each that follows needs no call of its own. Only a hint: a local
    /// driver ignores it, and MapBo works without it.
    /// </summary>
    void PrepareMaps(IReadOnlyList<BoRange> bos) { }

    /// <summary>
    /// Drops what <see cref="PrepareMaps"/> learned of these BOs and no <see cref="MapBo"/> used (a copy that stopped
    /// before mapping them): a later mapping of the same range asks the driver again, as the kernel would check it.
    /// </summary>
    void ForgetMaps(IReadOnlyList<BoRange> bos) { }

    /// <summary>
    /// The buffers of <paramref name="pid"/> written after tick <paramref name="since"/> of the driver's write clock, read
    /// without pausing the process (what a live copy re-sends); <c>since</c> <see cref="ulong.MaxValue"/> reads only the
    /// clock. Null where the driver keeps no dirty bits (a GPU's VRAM has none): then only content hashes tell.
    /// </summary>
    DirtyWrites? WrittenSince(uint pid, ulong since) => null;

    /// <summary>Identity of the buffer behind a dmabuf fd held by the engine (fstat's inode on Linux).</summary>
    ulong DmabufInode(int fd);

    /// <summary>Closes an fd the engine received (dmabuf fds from CHECKPOINT, RESTORE and PRIME_HANDLE_TO_FD).</summary>
    void CloseFd(int fd);

    /// <summary>
    /// <see cref="DmabufInode"/> of many fds (CHECKPOINT hands out one per BO, 100 000 for a large process): one call
    /// where the driver is remote, fstat each where it is local.
    /// </summary>
    ulong[] DmabufInodes(IReadOnlyList<int> fds)
    {
        var inodes = new ulong[fds.Count];
        for (var i = 0; i < inodes.Length; i++) inodes[i] = DmabufInode(fds[i]);
        return inodes;
    }

    /// <summary>
    /// Closes every one of <paramref name="fds"/>, even past one that fails; then throws for the first failure.
    /// One call where the driver is remote.
    /// </summary>
    void CloseFds(IReadOnlyList<int> fds)
    {
        DriverException? first = null;
        foreach (var fd in fds)
        {
            try
            {
                CloseFd(fd);
            }
            catch (DriverException e)
            {
                first ??= e;
            }
        }
        if (first is not null) throw first;
    }
}
