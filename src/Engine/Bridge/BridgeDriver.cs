using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// The real devices, reached through a CRIU dump: the KFD CRIU ops go through the bridge (CRIU is the task's ptrace
/// parent), the render-node ioctls and BO mappings run here on the task's files, taken with pidfd_getfd as the kfd
/// backend takes them (the render-node ioctls have no owner check).
/// </summary>
public sealed class BridgeDriver : IGpuDriver
{
    public const string DriverName = "criu-bridge";

    private readonly KfdDriverPaths _paths;
    private readonly KfdDriver _local;
    private readonly Dictionary<uint, BridgeKfdFile> _kfd = new();
    private BridgeConnection? _connection;

    public BridgeDriver() : this(new KfdDriverPaths()) { }

    public BridgeDriver(KfdDriverPaths paths)
    {
        _paths = paths;
        _local = new KfdDriver(paths, -1, default);
    }

    public string Name => DriverName;

    public KfdDriverPaths Paths => _paths;

    /// <summary>The bridge whose hook is being served: KFD ops go through it.</summary>
    public BridgeConnection? Connection
    {
        get { lock (_kfd) return _connection; }
        set { lock (_kfd) _connection = value; }
    }

    /// <summary>The task's fd on /dev/kfd, or null when it has none open (a process without GPU state).</summary>
    public int? KfdFdOf(uint pid) =>
        TargetFiles.Links(_paths.Proc, pid).Where(l => l.Target == _paths.Kfd).Select(l => (int?)l.Fd).FirstOrDefault();

    public IKfdFile OpenKfd(uint pid)
    {
        lock (_kfd)
        {
            if (_kfd.TryGetValue(pid, out var open)) return open;
            var connection = _connection ?? throw new DriverException(Errno.ENOTCONN, "open", _paths.Kfd,
                detail: $"pid {pid}: no CRIU bridge is connected (the KFD CRIU ops of a CRIU dump go through it)");
            var fd = KfdFdOf(pid) ?? throw new DriverException(Errno.ESRCH, "open", _paths.Kfd, detail: $"process {pid} has no {_paths.Kfd} open");
            var (slot, local) = connection.Take((int)pid, fd);
            BridgeConnection.CloseAll([local]); // the ops run in the bridge; this side needs no copy
            return _kfd[pid] = new BridgeKfdFile(connection, slot, pid);
        }
    }

    /// <summary>The KFD files opened through the bridge, by pid: the session unpauses and closes them.</summary>
    internal IReadOnlyDictionary<uint, BridgeKfdFile> KfdFiles
    {
        get { lock (_kfd) return new Dictionary<uint, BridgeKfdFile>(_kfd); }
    }

    internal void Forget(uint pid)
    {
        lock (_kfd) _kfd.Remove(pid);
    }

    public IReadOnlyList<GpuNode> Topology() => _local.Topology();
    public IReadOnlyList<CpuNode> CpuNodes() => _local.CpuNodes();

    public uint CreateRestoreTarget() =>
        throw new DriverException(Errno.EOPNOTSUPP, "create restore target", Name, detail: "CRIU recreates the process; the engine restores into it");

    public void DiscardRestoreTarget(uint pid) =>
        throw new DriverException(Errno.EOPNOTSUPP, "discard restore target", Name, detail: $"pid {pid} belongs to CRIU's restore, which ends it when it fails");

    public void KillProcess(uint pid) => _local.KillProcess(pid);
    public IReadOnlyList<uint> RenderMinorsOpenedBy(uint pid) => _local.RenderMinorsOpenedBy(pid);
    public IReadOnlyList<RenderFileRef> RenderFilesOpenedBy(uint pid) => _local.RenderFilesOpenedBy(pid);
    public IRenderNode OpenRenderNode(uint pid, uint minor) => _local.OpenRenderNode(pid, minor);
    public IRenderNode OpenRenderFile(uint pid, RenderFileRef file) => _local.OpenRenderFile(pid, file);
    public IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable) => _local.MapBo(renderMinor, mmapOffset, size, writable);

    public IBoMapping CopyBo(uint renderMinor, int dmabufFd, ulong mmapOffset, ulong size, bool writable) =>
        _local.CopyBo(renderMinor, dmabufFd, mmapOffset, size, writable);
    public ulong DmabufInode(int fd) => _local.DmabufInode(fd);
    public void CloseFd(int fd) => _local.CloseFd(fd);

    public void Dispose() => _local.Dispose();
}
