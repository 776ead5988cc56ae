using System.Collections.Concurrent;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// The real /dev/kfd and /dev/dri/renderD* devices. The CRIU ioctls act on the target process's own open files, which
/// this driver takes over with pidfd_getfd; KFD accepts the CRIU ops on them only from the target's ptrace parent, so
/// opening a target's KFD file PTRACE_SEIZEs it from a thread that then issues every op. It needs
/// CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) and ptrace rights over the target.
/// </summary>
public sealed class KfdDriver : IGpuDriver
{
    /// <summary>The KFD ioctl version CRIU's amdgpu plugin requires (1.8: the CRIU op as merged, with its dmabuf export of BOs).</summary>
    public const uint CriuMajor = 1, CriuMinor = 8;

    private readonly KfdDriverPaths _paths;
    private readonly ConcurrentDictionary<RenderNodeFile, uint> _renderNodes = new();
    private readonly ConcurrentDictionary<uint, Lazy<SdmaEngine>> _copyEngines = new();
    private readonly Lazy<GpuTopology> _topology;
    private int _kfd;

    internal KfdDriver(KfdDriverPaths paths, int kfdFd, KfdIoctlGetVersionArgs version)
    {
        _paths = paths;
        _kfd = kfdFd;
        Version = version;
        _topology = new(() => KfdSysfsTopology.ReadMachine(paths.Topology));
    }

    public string Name => "kfd";

    /// <summary>The KFD ioctl interface version of this kernel.</summary>
    public KfdIoctlGetVersionArgs Version { get; }

    /// <summary>Opens /dev/kfd and checks the capability and the KFD version the CRIU ops need.</summary>
    public static KfdDriver Open() => Open(new KfdDriverPaths());

    public static KfdDriver Open(KfdDriverPaths paths)
    {
        var fd = Libc.Open(paths.Kfd, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = Libc.LastErrno;
            throw new DriverException(errno, "open", paths.Kfd, detail: errno switch
            {
                Errno.ENOENT or Errno.ENODEV => $"no AMD GPU: {paths.Kfd} not found",
                Errno.EACCES or Errno.EPERM => $"no access to {paths.Kfd}: the checkpointer needs read/write access to it " +
                                               "and CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN",
                _ => null,
            });
        }
        try
        {
            var caps = LinuxCapabilities.Effective(paths.SelfStatus);
            if (!LinuxCapabilities.MayCheckpoint(caps))
                throw new DriverException(Errno.EPERM, "open", paths.Kfd,
                    detail: $"the KFD CRIU ops need CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (effective capabilities 0x{caps:x})");
            var version = new KfdIoctlGetVersionArgs();
            var rc = DeviceIoctl.Call(fd, KfdIoctls.GetVersion, ref version);
            if (rc != 0) throw new DriverException(rc, "AMDKFD_IOC_GET_VERSION", paths.Kfd);
            if (version.major_version != CriuMajor || version.minor_version < CriuMinor)
                throw new DriverException(Errno.EOPNOTSUPP, "AMDKFD_IOC_GET_VERSION", paths.Kfd,
                    detail: $"KFD ioctl version {version.major_version}.{version.minor_version}: checkpointing needs {CriuMajor}.{CriuMinor} or later, as CRIU's amdgpu plugin does");
            return new KfdDriver(paths, fd, version);
        }
        catch
        {
            Libc.Close(fd); // already failing: the error above is the one to report
            throw;
        }
    }

    public IReadOnlyList<GpuNode> Topology() => _topology.Value.Gpus;

    public IReadOnlyList<CpuNode> CpuNodes() => _topology.Value.Cpus;

    public IKfdFile OpenKfd(uint pid)
    {
        var fd = TargetFiles.Take(_paths.Proc, pid, _paths.Kfd);
        try
        {
            var tracer = PtraceThread.Seize(pid);
            try
            {
                // Every thread stays stopped while the file is open (the capture and the copy), released once at its Dispose.
                tracer.Freeze();
            }
            catch
            {
                tracer.Dispose();
                throw;
            }
            return new KfdProcessFile(pid, fd, _paths.Kfd, tracer);
        }
        catch
        {
            Libc.Close(fd); // already failing: the seize error is the one to report
            throw;
        }
    }

    /// <summary>
    /// Probes every render file of <paramref name="pid"/> (taken over, probed, closed) for the DRM ioctls a checkpoint and
    /// its restore need; one a kernel lacks refuses the checkpoint before PROCESS_INFO, naming it.
    /// </summary>
    public void CheckCheckpointable(uint pid)
    {
        foreach (var (file, fd) in TargetFiles.RenderFiles(_paths.Proc, _paths.Dri, pid))
        {
            var device = _paths.RenderNode(file.Minor);
            using var node = new RenderNodeFile(pid, file.Minor, TargetFiles.TakeFd(pid, fd, device), device);
            var missing = RenderIoctlProbe.Probe(node, device, createBo: false).Where(i => i.Present == false).ToList();
            if (missing.Count > 0)
                throw new DriverException(Errno.EOPNOTSUPP, string.Join(", ", missing.Select(m => m.Name)), device,
                    detail: $"this kernel lacks {(missing.Count == 1 ? "it" : "them")} ({missing[0].Detail}); {string.Join(", ", missing.Select(m => $"{m.NeededFor} needs {m.Name}"))}, " +
                            $"which {missing[0].Since} has; nothing was paused");
        }
    }

    /// <summary>Why a real restore cannot be run from here: the one line <c>restore --driver kfd</c> refuses with.</summary>
    public const string RestoreRefusal =
        "KFD binds a restored process to the memory of the process that issues RESTORE, so a real restore must run " +
        "inside the restored process (CRIU's amdgpu plugin does); restore this image with --driver sim:SOCKET, " +
        "or on real devices through the CRIU bridge (src/Engine/Devices/Linux/BRIDGE.md)";

    public uint CreateRestoreTarget() =>
        throw new DriverException(Errno.EOPNOTSUPP, "create restore target", Name, detail: RestoreRefusal);

    public void DiscardRestoreTarget(uint pid) =>
        throw new DriverException(Errno.EOPNOTSUPP, "discard restore target", Name,
            detail: $"pid {pid} was recreated by CRIU; CRIU ends it when its restore fails");

    /// <summary>SIGKILL, as the checkpointer ends a process whose copy now runs elsewhere.</summary>
    public void KillProcess(uint pid)
    {
        const int sigKill = 9;
        if (Native.Libc.Kill((int)pid, sigKill) != 0)
            throw new DriverException(Native.Libc.LastErrno, "kill(SIGKILL)", Name, detail: $"pid {pid}");
    }

    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => [.. RenderFilesOpenedBy(pid).Select(f => f.Minor).Distinct()];

    /// <summary>Every distinct open render file: fds of one minor that kcmp finds to be one open file (dup'ed) count once.</summary>
    public IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid) =>
        [.. TargetFiles.RenderFiles(_paths.Proc, _paths.Dri, pid).Select(f => f.File)];

    public IRenderNode OpenRenderNode(uint pid, uint minor) => OpenRenderFile(pid, new RenderFileRef(minor, 0));

    public IRenderNode OpenRenderFile(uint pid, RenderFileRef file)
    {
        var device = _paths.RenderNode(file.Minor);
        var fd = TargetFiles.RenderFiles(_paths.Proc, _paths.Dri, pid).Where(f => f.File == file).Select(f => (int?)f.Fd).FirstOrDefault()
                 ?? throw new DriverException(Errno.ESRCH, "open", device, detail: $"process {pid} has no {file} open");
        var node = new RenderNodeFile(pid, file.Minor, TargetFiles.TakeFd(pid, fd, device), device,
            closed: f => _renderNodes.TryRemove(f, out _));
        _renderNodes[node] = file.Minor;
        return node;
    }

    /// <summary>
    /// Maps a BO through an open render file of that minor: the kernel lets only a file holding the BO's handle (or,
    /// for a KFD BO, the file its process gave KFD) map its offset, so the files are tried in turn; one must have been
    /// opened with <see cref="OpenRenderFile"/> and still be open.
    /// </summary>
    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable)
    {
        var files = _renderNodes.Keys.Where(f => f.Minor == renderMinor).ToList();
        if (files.Count == 0)
            throw new DriverException(Errno.EBADF, "mmap", _paths.RenderNode(renderMinor), $"offset 0x{mmapOffset:x} size {size}",
                "the render node is not open: open it with OpenRenderNode (a BO maps only through the file holding its handle)");
        for (var i = 0; ; i++)
        {
            try
            {
                return MmapBoMapping.Map(files[i].Fd, files[i].Device, mmapOffset, size, writable);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EACCES && i + 1 < files.Count)
            {
                // Not this file's BO: the next file of the node may hold it.
            }
        }
    }

    /// <summary>
    /// A BO moved by the GPU's copy engine (SDMA) of its node: VRAM that is not host-visible, or behind a small BAR.
    /// One engine per node, set up on first use and kept until this driver is disposed.
    /// </summary>
    public IBoMapping CopyBo(uint renderMinor, int dmabufFd, ulong mmapOffset, ulong size, bool writable) =>
        _copyEngines.GetOrAdd(renderMinor, m => new Lazy<SdmaEngine>(() => SdmaEngine.Open(_paths.RenderNode(m)))).Value.Import(dmabufFd, size, writable);

    public ulong DmabufInode(int fd)
    {
        var rc = LinuxSyscalls.Inode(fd, out var inode);
        if (rc != 0) throw new DriverException(rc, "statx", $"dmabuf fd {fd}");
        return inode;
    }

    public void CloseFd(int fd)
    {
        if (Libc.Close(fd) != 0) throw new DriverException(Libc.LastErrno, "close", $"fd {fd}");
    }

    public void Dispose()
    {
        foreach (var file in _renderNodes.Keys) file.Dispose();
        foreach (var engine in _copyEngines.Values.Where(e => e.IsValueCreated)) engine.Value.Dispose();
        var fd = Interlocked.Exchange(ref _kfd, -1);
        if (fd >= 0 && Libc.Close(fd) != 0) throw new DriverException(Libc.LastErrno, "close", _paths.Kfd);
    }
}
