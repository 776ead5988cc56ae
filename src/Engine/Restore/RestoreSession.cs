using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Restore;

/// <summary>
/// One restore on a device: the new process, its KFD file and render nodes, and everything created so far, so a
/// failure can be rolled back. Render-node BOs are recreated through the same ioctls that create and import them.
/// </summary>
public sealed class RestoreSession : IDisposable, IRenderRestoreOps
{
    private readonly IGpuDriver _driver;
    private readonly LoadedImage _image;
    private readonly TopologyMap _map;
    // Each render file of the image restored into a file of its own, by the image's node id; file 0 of each GPU is KFD's.
    private readonly Dictionary<int, IRenderNode> _nodes = new();
    private readonly Dictionary<uint, IRenderNode> _kfdNodes = new();
    private readonly Dictionary<(int NodeId, uint Handle), ulong> _renderOffsets = new();
    // The copy engine writes a render BO the CPU may not reach through a dmabuf of it, exported from its own file.
    private readonly Dictionary<(int NodeId, uint Handle), int> _renderDmabufs = new();
    private readonly List<(IRenderNode Node, uint Handle)> _created = [];
    private readonly HashSet<(int NodeId, uint Handle)> _renderDone = [];
    // Render BOs created ahead of their own step (CreateAhead): null, or the error their calls met.
    private readonly Dictionary<(int NodeId, uint Handle), DriverException?> _ahead = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Lock> _handleLocks = new();
    private Dictionary<(uint GpuId, ulong Addr), int>? _kfdIndex;
    private KfdCriuBoBucket[] _restored = [];
    private bool _resumed;

    private RestoreSession(IGpuDriver driver, LoadedImage image, TopologyMap map, uint pid, IKfdFile kfd)
    {
        _driver = driver;
        _image = image;
        _map = map;
        Pid = pid;
        Kfd = kfd;
    }

    public uint Pid { get; }
    public IKfdFile Kfd { get; }

    /// <summary>Creates the process to restore into and opens its KFD file and a render node per mapped GPU.</summary>
    public static RestoreSession Begin(IGpuDriver driver, LoadedImage image, TopologyMap map, string? tag = null)
    {
        var pid = tag is null ? driver.CreateRestoreTarget() : driver.CreateRestoreTarget(tag);
        IKfdFile? kfd = null;
        try
        {
            kfd = driver.OpenKfd(pid);
            var session = new RestoreSession(driver, image, map, pid, kfd);
            try
            {
                session.OpenFiles();
            }
            catch
            {
                session.DisposeFiles();
                throw;
            }
            return session;
        }
        catch
        {
            kfd?.Dispose();
            driver.DiscardRestoreTarget(pid);
            throw;
        }
    }

    /// <summary>
    /// Reopens a restore a previous engine left after its device state was complete (KFD RESTORE and every render BO
    /// done): the process's files, the KFD BOs' restored offsets as journalled, the render BOs' offsets from GEM_MMAP.
    /// </summary>
    public static RestoreSession Reattach(IGpuDriver driver, LoadedImage image, TopologyMap map, uint pid, IReadOnlyList<ulong> restoredOffsets)
    {
        var session = new RestoreSession(driver, image, map, pid, driver.OpenKfd(pid));
        try
        {
            session.OpenFiles();
            session._restored = [.. image.Kfd.BoEntries.Select((b, i) => new KfdCriuBoBucket
            {
                addr = b.Addr, size = b.Size, offset = b.Offset, gpu_id = b.GpuId, alloc_flags = b.AllocFlags,
                restored_offset = restoredOffsets[i], dmabuf_fd = KfdSnapshot.InvalidFd,
            })];
            foreach (var node in image.RenderNodes)
            foreach (var bo in node.BoEntries.Where(e => e.IsImport == 0))
                session.Reach(session._nodes[(int)node.Id], (int)node.Id, node.GpuId, bo, $"handle {bo.Handle}");
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens file 0 of each GPU's node (the one KFD RESTORE is given), and one file per render file of the image: a GPU's
    /// first in file 0, its next ones in files 1, 2, … of the same node, so handles that repeat between files never meet.
    /// </summary>
    private void OpenFiles()
    {
        foreach (var gpu in _image.GpuEntries)
            _kfdNodes[gpu.GpuId] = _driver.OpenRenderFile(Pid, new RenderFileRef(_map[gpu.GpuId].DrmRenderMinor, 0));
        var opened = new Dictionary<uint, int>();
        foreach (var node in _image.RenderNodes)
        {
            var index = opened.GetValueOrDefault(node.GpuId);
            opened[node.GpuId] = index + 1;
            _nodes[(int)node.Id] = index == 0 && _kfdNodes.TryGetValue(node.GpuId, out var first)
                ? first
                : _driver.OpenRenderFile(Pid, new RenderFileRef(_map[node.GpuId].DrmRenderMinor, index));
        }
    }

    /// <summary>The device name of an image render file: its node, and which of that node's files when there are several.</summary>
    public string DeviceOf(Images.Proto.CriuRenderNode node)
    {
        var minor = _map[node.GpuId].DrmRenderMinor;
        var index = _image.RenderNodes.TakeWhile(n => n.Id != node.Id).Count(n => n.GpuId == node.GpuId);
        return index == 0 ? $"renderD{minor}" : $"renderD{minor} (file {index + 1})";
    }

    private void DisposeFiles()
    {
        foreach (var node in _nodes.Values.Concat(_kfdNodes.Values).Distinct()) node.Dispose();
        _nodes.Clear();
        _kfdNodes.Clear();
    }

    /// <summary>Where KFD RESTORE put each BO (bucket order), for the journal.</summary>
    public IReadOnlyList<ulong> RestoredOffsets => [.. _restored.Select(b => b.restored_offset)];

    /// <summary>KFD RESTORE: every KFD BO at its GPU address on its mapped GPU, and the queues, events and SVM ranges.</summary>
    public void RestoreKfd()
    {
        var image = _image.Kfd;
        var devices = _image.GpuEntries.Select(d => new KfdCriuDeviceBucket
        {
            user_gpu_id = d.GpuId,
            actual_gpu_id = _map.ActualGpuId(d.GpuId),
            drm_fd = (uint)_kfdNodes[d.GpuId].Fd,
        }).ToArray();
        var bos = image.BoEntries.Select(b => new KfdCriuBoBucket
        {
            addr = b.Addr, size = b.Size, offset = b.Offset, gpu_id = b.GpuId, alloc_flags = b.AllocFlags,
            dmabuf_fd = KfdSnapshot.InvalidFd,
        }).ToArray();
        var priv = image.PrivData.ToByteArray();
        var args = new KfdIoctlCriuArgs
        {
            op = (uint)KfdCriuOp.Restore,
            pid = Pid,
            num_devices = (uint)devices.Length,
            num_bos = (uint)bos.Length,
            num_objects = image.NumOfObjects,
            priv_data_size = (ulong)priv.Length,
        };
        Kfd.CriuOp(ref args, devices, bos, priv).Check("CRIU_OP(RESTORE)", $"/dev/kfd of pid {Pid}");
        _restored = bos;
    }

    /// <summary>
    /// Creates a render BO where it was: GEM_CREATE, its handle changed back, its mappings, and how its contents get in
    /// (<see cref="RenderBoCreate"/>). One its node created ahead (<see cref="CreateAhead"/>) is only taken note of.
    /// </summary>
    public void Create(RenderBoRef bo)
    {
        if (!TakeCreatedAhead(bo, out var error))
        {
            CreateAhead(bo.NodeId, [bo], 1);
            TakeCreatedAhead(bo, out error);
        }
        if (error is not null) throw error;
    }

    /// <summary>
    /// Creates render BOs of one node ahead of their own steps, <paramref name="batch"/> to a call of the driver
    /// (<see cref="IRenderNode.CreateBos"/>), in the order of their handles (a file hands out its lowest free handle,
    /// so most BOs get theirs at once), under the node's handle lock. Each BO's <see cref="Create"/> then finds its
    /// outcome here, failure included. After a failure the BOs not tried are left to their own <see cref="Create"/>.
    /// </summary>
    public void CreateAhead(int nodeId, IEnumerable<RenderBoRef> bos, int batch)
    {
        var node = _nodes[nodeId];
        foreach (var chunk in bos.OrderBy(b => b.Handle).Chunk(batch))
        {
            var creates = chunk.Select(bo => Planned(bo)).ToArray();
            lock (HandleLock(nodeId))
            {
                node.CreateBos(creates);
                for (var i = 0; i < chunk.Length; i++)
                    if (creates[i].Tried)
                        Ahead(node, chunk[i], creates[i]);
            }
            if (creates.Any(c => c.Failed)) return;
        }
    }

    /// <summary>What <see cref="Create"/> would call for <paramref name="bo"/>, as one <see cref="RenderBoCreate"/>.</summary>
    private RenderBoCreate Planned(RenderBoRef bo)
    {
        var entry = bo.Entry;
        var create = new DrmAmdgpuGemCreate
        {
            bo_size = entry.Size,
            alignment = AmdgpuGem.AlignmentBytes(entry.Alignment, bo.ToString()),
            domains = entry.PreferredDomains,
            domain_flags = entry.AllocFlags,
        };
        return new RenderBoCreate(create, bo.Handle, Mappings(bo), CpuMaps(entry), CopyEngineWrites(entry, bo.GpuId));
    }

    /// <summary>GEM_VA(MAP) of each of the BO's mappings, where it had them.</summary>
    private static DrmAmdgpuGemVa[] Mappings(RenderBoRef bo) => [.. bo.Entry.VmEntries.Select(vm => new DrmAmdgpuGemVa
    {
        handle = bo.Handle,
        operation = AmdgpuGem.VaOpMap,
        flags = (uint)vm.Flags,
        va_address = vm.Addr,
        offset_in_bo = vm.Offset,
        map_size = vm.Size,
    })];

    /// <summary>Whether the CPU may map the BO (GEM_MMAP): not when it was created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS (the kernel refuses that with EPERM).</summary>
    private static bool CpuMaps(Images.Proto.DrmBoEntry entry) => (entry.AllocFlags & AmdgpuGem.CreateNoCpuAccess) == 0;

    /// <summary>Whether the copy engine writes the BO, through a dmabuf of it (<see cref="CopyEngineRule"/>: where the CPU may not).</summary>
    private bool CopyEngineWrites(Images.Proto.DrmBoEntry entry, uint gpuId) => CopyEngineRule.ForRender(entry.PreferredDomains, entry.AllocFlags, _map[gpuId]);

    /// <summary>Takes note of a BO created ahead (under its node's handle lock), as <see cref="Create"/> does of its own.</summary>
    private void Ahead(IRenderNode node, RenderBoRef bo, RenderBoCreate c)
    {
        lock (_gate)
        {
            if (c.Created) _created.Add((node, c.HandleNow));
            if (c.Failed)
            {
                var what = c.FailedCall == RenderBoCreate.VaCall ? $"{bo} at 0x{c.Mappings[c.FailedMapping].va_address:x}" : bo.ToString();
                _ahead[(bo.NodeId, bo.Handle)] = new DriverException(c.Rc, c.FailedCall!, $"renderD{node.Minor}", what);
                return;
            }
            if (c.WantsMmap) _renderOffsets[(bo.NodeId, bo.Handle)] = c.Mmap.addr_ptr;
            if (c.WantsPrime) _renderDmabufs[(bo.NodeId, bo.Handle)] = c.Prime.fd;
            _renderDone.Add((bo.NodeId, bo.Handle));
            _ahead[(bo.NodeId, bo.Handle)] = null;
        }
    }

    /// <summary>Whether <paramref name="bo"/> was created ahead (<see cref="CreateAhead"/>), and the error it met if so; taken once.</summary>
    public bool TakeCreatedAhead(RenderBoRef bo, out DriverException? error)
    {
        lock (_gate) return _ahead.Remove((bo.NodeId, bo.Handle), out error);
    }

    public void Import(RenderBoRef bo, ImportLink link)
    {
        var node = _nodes[bo.NodeId];
        var device = $"renderD{node.Minor}";
        var (fd, close) = ExporterFd(link, bo);
        try
        {
            var prime = new DrmPrimeHandle { fd = fd };
            lock (HandleLock(bo.NodeId))
            {
                node.PrimeFdToHandle(ref prime).Check("PRIME_FD_TO_HANDLE", device, bo.ToString());
                TakeHandle(node, prime.handle, bo);
            }
        }
        finally
        {
            if (close) _driver.CloseFd(fd);
        }
        Map(node, bo);
    }

    /// <summary>
    /// The exporter an import still waits for (a render BO not restored yet), or null when its dmabuf can be had now.
    /// Render BOs of one restore may be restored from several threads at once.
    /// </summary>
    public string? WaitsFor(ImportLink link)
    {
        lock (_gate) return RenderRestorePasses.ExporterMissing(link, _renderDone) ? RenderRestorePasses.Describe(link) : null;
    }

    /// <summary>Where GEM_MMAP put a restored render BO.</summary>
    public ulong RenderOffset(int nodeId, uint handle)
    {
        lock (_gate) return _renderOffsets[(nodeId, handle)];
    }

    /// <summary>One lock per render file: its handle namespace is shared by every BO restored in it.</summary>
    private Lock HandleLock(int nodeId)
    {
        lock (_gate)
        {
            if (!_handleLocks.TryGetValue(nodeId, out var gate)) _handleLocks[nodeId] = gate = new Lock();
            return gate;
        }
    }

    /// <summary>Moves a new GEM object to the handle it had (under the node's lock, taken by the caller).</summary>
    private void TakeHandle(IRenderNode node, uint handle, RenderBoRef bo)
    {
        var slot = Created(node, handle);
        if (handle == bo.Handle) return;
        var change = new DrmGemChangeHandle { handle = handle, new_handle = bo.Handle };
        node.GemChangeHandle(ref change).Check("GEM_CHANGE_HANDLE", $"renderD{node.Minor}", bo.ToString());
        lock (_gate) _created[slot] = (node, bo.Handle);
    }

    /// <summary>Maps an imported BO where it was mapped (its contents are its exporter's).</summary>
    private void Map(IRenderNode node, RenderBoRef bo)
    {
        var device = $"renderD{node.Minor}";
        var mappings = Mappings(bo);
        for (var i = 0; i < mappings.Length; i++)
            node.GemVa(ref mappings[i]).Check("GEM_VA(MAP)", device, $"{bo} at 0x{mappings[i].va_address:x}");
        lock (_gate) _renderDone.Add((bo.NodeId, bo.Handle));
    }

    /// <summary>
    /// How a render BO restored before a restart gets its contents: its mmap offset (GEM_MMAP) where the CPU maps it,
    /// and a dmabuf where the copy engine writes it.
    /// </summary>
    private void Reach(IRenderNode node, int nodeId, uint gpuId, Images.Proto.DrmBoEntry entry, string what)
    {
        var device = $"renderD{node.Minor}";
        if (CpuMaps(entry))
        {
            var mmap = new DrmAmdgpuGemMmap { handle = entry.Handle };
            node.GemMmap(ref mmap).Check("GEM_MMAP", device, what);
            lock (_gate) _renderOffsets[(nodeId, entry.Handle)] = mmap.addr_ptr;
        }
        if (!CopyEngineWrites(entry, gpuId)) return;
        var prime = new DrmPrimeHandle { handle = entry.Handle, flags = AmdgpuGem.DrmCloexec | AmdgpuGem.DrmRdwr };
        node.PrimeHandleToFd(ref prime).Check("PRIME_HANDLE_TO_FD", device, what);
        lock (_gate) _renderDmabufs[(nodeId, entry.Handle)] = prime.fd;
    }

    private int Created(IRenderNode node, uint handle)
    {
        lock (_gate)
        {
            _created.Add((node, handle));
            return _created.Count - 1;
        }
    }

    private (int Fd, bool Close) ExporterFd(ImportLink link, RenderBoRef bo)
    {
        if (link.ExporterKind == ExporterKind.Kfd)
        {
            var index = KfdIndex().GetValueOrDefault((link.ExporterGpuId, link.ExporterAddr ?? ulong.MaxValue), -1);
            if (index < 0) throw new DriverException(Errno.EINVAL, "PRIME_FD_TO_HANDLE", $"/dev/kfd of pid {Pid}", bo.ToString(), "its KFD exporter is not in the image");
            var fd = _restored[index].dmabuf_fd;
            if (fd == KfdSnapshot.InvalidFd)
                throw new DriverException(Errno.EBADF, "CRIU_OP(RESTORE)", $"/dev/kfd of pid {Pid}", $"KFD BO #{index}", $"no dmabuf to import into {bo}");
            return ((int)fd, false);
        }
        var exporter = _nodes[link.ExporterRenderNodeId ?? throw new DriverException(Errno.EINVAL, "PRIME_HANDLE_TO_FD", $"pid {Pid}", bo.ToString(), "its render exporter names no render file")];
        var prime = new DrmPrimeHandle { handle = link.ExporterHandle!.Value, flags = AmdgpuGem.DrmCloexec | AmdgpuGem.DrmRdwr };
        exporter.PrimeHandleToFd(ref prime).Check("PRIME_HANDLE_TO_FD", $"renderD{exporter.Minor}", $"handle {prime.handle}");
        return (prime.fd, true);
    }

    private Dictionary<(uint GpuId, ulong Addr), int> KfdIndex()
    {
        lock (_gate)
        {
            if (_kfdIndex is not null) return _kfdIndex;
            var index = new Dictionary<(uint, ulong), int>();
            for (var i = 0; i < _image.Kfd.BoEntries.Count; i++) index.TryAdd((_image.Kfd.BoEntries[i].GpuId, _image.Kfd.BoEntries[i].Addr), i);
            return _kfdIndex = index;
        }
    }

    /// <summary>Where every BO's contents go: one device per GPU page file and one per render node.</summary>
    public IReadOnlyList<DeviceContents> ContentsPlan(int chunkSize)
    {
        var image = _image.Kfd;
        var devices = new List<DeviceContents>();
        foreach (var gpu in _image.GpuEntries)
        {
            var minor = _map[gpu.GpuId].DrmRenderMinor;
            var bos = image.BoEntries
                .Select((b, i) => (Entry: b, Index: i))
                .Where(x => x.Entry.GpuId == gpu.GpuId && ((KfdAllocFlags)x.Entry.AllocFlags).HasContents())
                .Select(x => KfdTarget(minor, gpu.GpuId, x.Entry, x.Index))
                .ToList();
            if (bos.Count > 0)
                devices.Add(ContentPlanner.OnePageFile($"GPU 0x{gpu.GpuId:x}", ImageFileName.KfdPages(ImageIds.Kfd, gpu.GpuId), bos, chunkSize)
                    with { Label = $"GPU 0x{gpu.GpuId:x}→0x{_map.ActualGpuId(gpu.GpuId):x}" });
        }
        foreach (var node in _image.RenderNodes)
        {
            var minor = _map[node.GpuId].DrmRenderMinor;
            var bos = node.BoEntries
                .Select((e, k) => (Entry: e, Index: k))
                .Where(x => x.Entry.IsImport == 0 && x.Entry.Size > 0)
                .Select(x => (RenderTarget(minor, node, x.Entry), ImageFileName.DrmPages((int)node.Id, node.DrmRenderMinor, x.Index)))
                .ToList();
            if (bos.Count > 0)
            {
                var device = DeviceOf(node);
                devices.Add(ContentPlanner.FilePerBo(device, bos, chunkSize) with { Label = $"renderD{node.DrmRenderMinor}→{device}" });
            }
        }
        return devices;
    }

    /// <summary>Where a render BO's contents go: through the copy engine with its dmabuf (<see cref="CopyEngineRule"/>), else through its mmap offset.</summary>
    private BoSource RenderTarget(uint minor, Images.Proto.CriuRenderNode node, Images.Proto.DrmBoEntry entry)
    {
        var label = BoNames.Render(entry.Handle, minor, node.GpuId, entry.Addr, entry.Size);
        lock (_gate)
        {
            var key = ((int)node.Id, entry.Handle);
            if (_renderDmabufs.TryGetValue(key, out var fd))
                return new BoSource(minor, _renderOffsets.GetValueOrDefault(key), entry.Size, label, entry.Handle)
                    { Path = BoCopyPath.CopyEngine, Dmabuf = fd, ImageKey = $"render:{node.Id}:{entry.Handle}" };
            return new BoSource(minor, _renderOffsets[key], entry.Size, label, entry.Handle);
        }
    }

    /// <summary>
    /// Where a KFD BO's contents go: through the copy engine, with the dmabuf RESTORE gave, where the CPU may not map it
    /// on the local GPU (<see cref="CopyEngineRule"/>); else through its mmap offset.
    /// </summary>
    private BoSource KfdTarget(uint minor, uint gpuId, Images.Proto.KfdBoEntry entry, int index)
    {
        var label = BoNames.Kfd(index, gpuId, entry.Addr, entry.Size);
        var target = new BoSource(minor, _restored[index].restored_offset, entry.Size, label, (uint)index);
        if (!CopyEngineRule.ForKfd((KfdAllocFlags)entry.AllocFlags, _map[gpuId])) return target;
        var fd = _restored[index].dmabuf_fd;
        if (fd == KfdSnapshot.InvalidFd)
            throw new DriverException(Errno.EBADF, "SDMA copy", $"/dev/kfd of pid {Pid}", label,
                "the copy engine writes this BO through the dmabuf RESTORE gave, and a reattached restore holds none: restore the image again");
        return target with { Path = BoCopyPath.CopyEngine, Dmabuf = (int)fd, ImageKey = $"kfd:0x{gpuId:x}:{index}" };
    }

    /// <summary>RESUME was issued through <see cref="Kfd"/>: nothing is rolled back any more.</summary>
    public void MarkResumed()
    {
        _resumed = true;
        CloseKfdFds();
    }

    /// <summary>Undoes what this restore created: GEM handles, dmabuf fds, the new process itself.</summary>
    public IReadOnlyList<string> Rollback()
    {
        var problems = new List<string>();
        if (_resumed) return problems;
        for (var i = _created.Count - 1; i >= 0; i--)
        {
            var (node, handle) = _created[i];
            var close = new DrmGemClose { handle = handle };
            var rc = node.GemClose(ref close);
            if (rc != 0 && rc != Errno.ESRCH) problems.Add($"GEM_CLOSE handle {handle} on renderD{node.Minor}: {Errno.Name(rc)}");
        }
        _created.Clear();
        CloseKfdFds();
        try
        {
            _driver.DiscardRestoreTarget(Pid);
        }
        catch (DriverException e)
        {
            problems.Add(e.Message);
        }
        return problems;
    }

    private void CloseKfdFds()
    {
        int[] render;
        lock (_gate)
        {
            render = [.. _renderDmabufs.Values];
            _renderDmabufs.Clear();
        }
        _driver.CloseFds(render);
        _driver.CloseFds([.. _restored.Where(b => b.dmabuf_fd != KfdSnapshot.InvalidFd).Select(b => (int)b.dmabuf_fd)]);
        _restored = [.. _restored.Select(b => b with { dmabuf_fd = KfdSnapshot.InvalidFd })];
    }

    public void Dispose()
    {
        CloseKfdFds();
        DisposeFiles();
        Kfd.Dispose();
    }
}
