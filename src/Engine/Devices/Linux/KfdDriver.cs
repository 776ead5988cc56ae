using System.Collections.Concurrent;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// The real /dev/kfd and /dev/dri/renderD* devices. The CRIU ioctls act on the target process's own open files, which
/// this driver takes over with pidfd_getfd; it needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) and ptrace rights.
/// </summary>
public sealed class KfdDriver : IGpuDriver
{
    /// <summary>AMDKFD_IOC_CRIU_OP arrived with KFD ioctl version 1.7.</summary>
    public const uint CriuMajor = 1, CriuMinor = 7;

    private readonly KfdDriverPaths _paths;
    private readonly ConcurrentDictionary<RenderNodeFile, uint> _renderNodes = new();
    private readonly Lazy<IReadOnlyList<GpuNode>> _topology;
    private int _kfd;

    internal KfdDriver(KfdDriverPaths paths, int kfdFd, KfdIoctlGetVersionArgs version)
    {
        _paths = paths;
        _kfd = kfdFd;
        Version = version;
        _topology = new(() => KfdSysfsTopology.Read(paths.Topology));
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
                    detail: $"KFD ioctl version {version.major_version}.{version.minor_version} has no CRIU ops ({CriuMajor}.{CriuMinor} or later needed)");
            return new KfdDriver(paths, fd, version);
        }
        catch
        {
            Libc.Close(fd); // already failing: the error above is the one to report
            throw;
        }
    }

    public IReadOnlyList<GpuNode> Topology() => _topology.Value;

    public IKfdFile OpenKfd(uint pid) => new KfdProcessFile(pid, TargetFiles.Take(_paths.Proc, pid, _paths.Kfd), _paths.Kfd);

    public uint CreateRestoreTarget() =>
        throw new DriverException(Errno.EOPNOTSUPP, "create restore target", Name,
            detail: "on real devices the process to restore into must come from CRIU (criu restore with the amdgpu plugin); " +
                    "gpuckpt restores the GPU state of a process CRIU has recreated");

    public void DiscardRestoreTarget(uint pid) =>
        throw new DriverException(Errno.EOPNOTSUPP, "discard restore target", Name,
            detail: $"pid {pid} was recreated by CRIU; CRIU ends it when its restore fails");

    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => TargetFiles.RenderMinors(_paths.Proc, _paths.Dri, pid);

    public IRenderNode OpenRenderNode(uint pid, uint minor)
    {
        var device = _paths.RenderNode(minor);
        var file = new RenderNodeFile(pid, minor, TargetFiles.Take(_paths.Proc, pid, device), device,
            closed: f => _renderNodes.TryRemove(f, out _));
        _renderNodes[file] = minor;
        return file;
    }

    /// <summary>
    /// Maps a BO through the open render node file of that minor: the kernel lets only the file holding the BO's
    /// handle map its offset, so the node must have been opened with <see cref="OpenRenderNode"/> first.
    /// </summary>
    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable)
    {
        var file = _renderNodes.Keys.FirstOrDefault(f => f.Minor == renderMinor);
        if (file is null)
            throw new DriverException(Errno.EBADF, "mmap", _paths.RenderNode(renderMinor), $"offset 0x{mmapOffset:x} size {size}",
                "the render node is not open: open it with OpenRenderNode (a BO maps only through the file holding its handle)");
        return MmapBoMapping.Map(file.Fd, file.Device, mmapOffset, size, writable);
    }

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
        var fd = Interlocked.Exchange(ref _kfd, -1);
        if (fd >= 0 && Libc.Close(fd) != 0) throw new DriverException(Libc.LastErrno, "close", _paths.Kfd);
    }
}
