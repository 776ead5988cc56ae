using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The devices of a task that <c>criu restore</c> rebuilds, reached through the bridge. The task's /dev/kfd and render
/// files are opened by the bridge inside the task, and KFD RESTORE is issued there (the kernel binds a restored KFD
/// process to the task that issues RESTORE); render-node ioctls and BO mappings run here on copies of those files (they
/// have no owner check); RESUME goes through CRIU's main process (KFD takes it by pid). The restore coordinator runs on
/// this driver while the task's RESTORE_EXT_FILE waits: its "new process" is that task.
/// </summary>
public sealed class BridgeRestoreDriver : IGpuDriver
{
    public const string DriverName = "criu-bridge-restore";

    private readonly KfdDriverPaths _paths;
    private readonly KfdDriver _local;
    private readonly Lock _gate = new();
    private readonly List<BridgeRenderFile> _renderFiles = [];
    private readonly Dictionary<ulong, (ulong NewOffset, uint GpuId)> _kfdBoMoves = new();
    private readonly Dictionary<uint, BridgeRenderFile> _gpuFiles = new();
    private BridgeConnection? _task;
    private uint? _taskPid;
    private BridgeRestoreKfdFile? _kfd;
    private BridgeConnection? _criu;

    public BridgeRestoreDriver() : this(new KfdDriverPaths()) { }

    public BridgeRestoreDriver(KfdDriverPaths paths)
    {
        _paths = paths;
        _local = new KfdDriver(paths, -1, default);
    }

    public string Name => DriverName;

    public KfdDriverPaths Paths => _paths;

    /// <summary>The restored task whose RESTORE_EXT_FILE is being served, and its bridge.</summary>
    public void AttachTask(uint pid, BridgeConnection task)
    {
        lock (_gate)
        {
            if (_taskPid is { } other && other != pid)
                throw new DriverException(Errno.EBUSY, "restore", _paths.Kfd, detail: $"pid {pid}: this restore already rebuilds the GPU state of pid {other}");
            _taskPid = pid;
            _task = task;
        }
    }

    /// <summary>CRIU's main process while it waits in RESUME_DEVICES_LATE (null otherwise): RESUME goes through it.</summary>
    public BridgeConnection? Criu
    {
        get { lock (_gate) return _criu; }
        set { lock (_gate) _criu = value; }
    }

    /// <summary>The task's /dev/kfd slot, once opened.</summary>
    public int? KfdSlot
    {
        get { lock (_gate) return _kfd?.Slot; }
    }

    /// <summary>The task's render file of <paramref name="file"/> (its minor here and which of that minor's files), if opened.</summary>
    internal BridgeRenderFile? RenderFile(RenderFileRef file)
    {
        lock (_gate)
        {
            var ofMinor = _renderFiles.Where(f => f.Minor == file.Minor).ToList();
            return file.Index < ofMinor.Count ? ofMinor[file.Index] : null;
        }
    }

    /// <summary>The render file KFD RESTORE was given for a GPU (by the gpu id the process knows it by).</summary>
    internal BridgeRenderFile? FileOfGpu(uint userGpuId)
    {
        lock (_gate) return _gpuFiles.GetValueOrDefault(userGpuId);
    }

    /// <summary>Where KFD RESTORE moved the KFD BO that was mapped at <paramref name="oldOffset"/>, and its GPU.</summary>
    public (ulong NewOffset, uint GpuId)? KfdBoMove(ulong oldOffset)
    {
        lock (_gate) return _kfdBoMoves.TryGetValue(oldOffset, out var move) ? move : null;
    }

    public IReadOnlyList<GpuNode> Topology() => _local.Topology();
    public IReadOnlyList<CpuNode> CpuNodes() => _local.CpuNodes();

    public uint CreateRestoreTarget()
    {
        lock (_gate)
            return _taskPid ?? throw new DriverException(Errno.ESRCH, "create restore target", Name,
                detail: "CRIU creates the task: the GPU state is rebuilt only inside a task's RESTORE_EXT_FILE");
    }

    public void DiscardRestoreTarget(uint pid)
    {
        // The task is CRIU's: the failing hook makes CRIU kill it, and its GPU state goes with it.
    }

    public IKfdFile OpenKfd(uint pid)
    {
        lock (_gate)
        {
            if (_kfd is not null && _kfd.Pid == pid) return _kfd;
            var task = TaskOf(pid, _paths.Kfd);
            var (slot, local, _) = task.Open(_paths.Kfd, Libc.O_RDWR | Libc.O_CLOEXEC);
            BridgeConnection.CloseAll([local]); // the KFD ops run in the task; this side needs no copy
            return _kfd = new BridgeRestoreKfdFile(this, new BridgeKfdFile(task, slot, pid));
        }
    }

    public IRenderNode OpenRenderFile(uint pid, RenderFileRef file)
    {
        lock (_gate)
        {
            var device = _paths.RenderNode(file.Minor);
            var ofMinor = _renderFiles.Where(f => f.Minor == file.Minor && !f.Disposed).ToList();
            if (file.Index < ofMinor.Count) return ofMinor[file.Index];
            if (file.Index != ofMinor.Count)
                throw new DriverException(Errno.ENOENT, "open", device, detail: $"pid {pid}: {file} opened before file {ofMinor.Count + 1} of that node");
            var task = TaskOf(pid, device);
            var (slot, local, remote) = task.Open(device, Libc.O_RDWR | Libc.O_CLOEXEC);
            var opened = new BridgeRenderFile(new RenderNodeFile(pid, file.Minor, local, device), slot, remote);
            _renderFiles.Add(opened);
            return opened;
        }
    }

    public IRenderNode OpenRenderNode(uint pid, uint minor) => OpenRenderFile(pid, new RenderFileRef(minor, 0));

    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => [.. RenderFilesOpenedBy(pid).Select(f => f.Minor).Distinct()];

    public IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid)
    {
        lock (_gate)
            return _taskPid == pid ? [.. _renderFiles.GroupBy(f => f.Minor).SelectMany(g => g.Select((_, i) => new RenderFileRef(g.Key, i)))] : [];
    }

    /// <summary>Maps a BO through this process's copy of a task's render file of that minor (a BO maps only through a file that holds it).</summary>
    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable)
    {
        List<BridgeRenderFile> files;
        lock (_gate) files = [.. _renderFiles.Where(f => f.Minor == renderMinor && !f.Disposed)];
        if (files.Count == 0)
            throw new DriverException(Errno.EBADF, "mmap", _paths.RenderNode(renderMinor), $"offset 0x{mmapOffset:x} size {size}", "the restored task has no such render file open");
        for (var i = 0; ; i++)
        {
            try
            {
                return MmapBoMapping.Map(files[i].LocalFd, files[i].Device, mmapOffset, size, writable);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EACCES && i + 1 < files.Count)
            {
                // Another file of this node holds the BO: try the next.
            }
        }
    }

    /// <summary>A BO the CPU may not map: written by the copy engine of a render file of this process's own, through the dmabuf RESTORE gave.</summary>
    public IBoMapping CopyBo(uint renderMinor, int dmabufFd, ulong mmapOffset, ulong size, bool writable) =>
        _local.CopyBo(renderMinor, dmabufFd, mmapOffset, size, writable);

    public void KillProcess(uint pid) => _local.KillProcess(pid);
    public ulong DmabufInode(int fd) => _local.DmabufInode(fd);
    public void CloseFd(int fd) => _local.CloseFd(fd);

    /// <summary>KFD RESTORE succeeded: where each BO went, and which render file each GPU was given.</summary>
    internal void Restored(ReadOnlySpan<KfdCriuDeviceBucket> devices, ReadOnlySpan<KfdCriuBoBucket> bos)
    {
        lock (_gate)
        {
            foreach (var d in devices)
                if (_renderFiles.FirstOrDefault(f => f.Fd == (int)d.drm_fd) is { } file) _gpuFiles[d.user_gpu_id] = file;
            foreach (var b in bos) _kfdBoMoves[b.offset] = (b.restored_offset, b.gpu_id);
        }
    }

    /// <summary>RESUME of the task, issued from CRIU's main process on a /dev/kfd it opens for that (KFD takes RESUME by pid).</summary>
    internal int ResumeThroughCriu(ref KfdIoctlCriuArgs args)
    {
        var criu = Criu ?? throw new DriverException(Errno.ENOTCONN, "CRIU_OP(RESUME)", _paths.Kfd,
            detail: $"pid {args.pid}: RESUME is issued only while CRIU waits in RESUME_DEVICES_LATE, after every task and mapping exists");
        var (slot, local, _) = criu.Open(_paths.Kfd, Libc.O_RDWR | Libc.O_CLOEXEC);
        BridgeConnection.CloseAll([local]);
        try
        {
            var rc = criu.KfdOp(slot, ref args, [], [], [], out var fds);
            BridgeConnection.CloseAll(fds);
            return rc;
        }
        finally
        {
            var closed = criu.Close(slot);
            if (closed != 0) throw new DriverException(closed, "close", _paths.Kfd, detail: "CRIU's /dev/kfd after RESUME, in the CRIU bridge's process");
        }
    }

    private BridgeConnection TaskOf(uint pid, string device)
    {
        if (_taskPid != pid || _task is null)
            throw new DriverException(Errno.ESRCH, "open", device, detail: $"pid {pid} is not the task whose RESTORE_EXT_FILE is being served");
        return _task;
    }

    public void Dispose() => _local.Dispose();
}
