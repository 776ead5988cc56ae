using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// Turns a paused process's driver state into image metadata and a copy plan: KFD CHECKPOINT, every open render file's
/// BOs and mappings, the import links between them, and one <see cref="DeviceContents"/> per GPU and per render file.
/// The render files stay open in the result until its copy is done. Field meanings are those of CRIU's amdgpu plugin.
/// </summary>
public static class CheckpointCapture
{
    public static CapturedProcess Capture(IGpuDriver driver, IKfdFile kfd, KfdProcessInfo info, int chunkSize)
    {
        var topology = driver.Topology();
        var cpus = driver.CpuNodes();
        var snapshot = KfdCheckpoint.Checkpoint(kfd, info);
        var fds = snapshot.Bos.Where(b => b.dmabuf_fd != KfdSnapshot.InvalidFd).Select(b => (int)b.dmabuf_fd).ToList();
        var open = new List<IRenderNode>();
        // The dmabuf fds of the BOs the copy engine moves stay open, with the capture, until their copy is done.
        var held = new List<int>();
        try
        {
            var userOf = snapshot.Devices.ToDictionary(d => d.actual_gpu_id, d => d.user_gpu_id);
            var gpuOf = snapshot.Devices.ToDictionary(d => d.user_gpu_id, d => LocalGpu(topology, d.actual_gpu_id));

            var inodeOf = driver.DmabufInodes(fds);
            var next = 0;
            var kfdInodes = snapshot.Bos.Select(b => b.dmabuf_fd == KfdSnapshot.InvalidFd ? (ulong?)null : inodeOf[next++]).ToArray();
            var resolver = new ImportResolver();
            resolver.AddKfd(snapshot.Bos
                .Select((b, i) => (Bucket: b, Index: i))
                .Where(x => kfdInodes[x.Index] is not null)
                .Select(x => (x.Bucket.gpu_id, x.Index, x.Bucket.addr, kfdInodes[x.Index]!.Value)));

            var renderNodes = new List<RenderNodeSnapshot>();
            foreach (var file in driver.RenderFilesOpenedBy(kfd.Pid).OrderBy(f => f.Minor).ThenBy(f => f.Index))
            {
                var gpu = topology.FirstOrDefault(g => g.DrmRenderMinor == file.Minor)
                          ?? throw new DriverException(Errno.ENODEV, "open", file.ToString(), detail: "no such GPU in the topology");
                if (!userOf.TryGetValue(gpu.GpuId, out var userGpuId))
                    throw new DriverException(Errno.EINVAL, "CRIU_OP(CHECKPOINT)", file.ToString(), detail: $"GPU 0x{gpu.GpuId:x} is not one of the process's KFD devices");
                var node = driver.OpenRenderFile(kfd.Pid, file);
                open.Add(node);
                var scanned = RenderNodeScanner.Scan(driver, node, userGpuId);
                fds.AddRange(scanned.Bos.Select(b => b.DmabufFd));
                renderNodes.Add(scanned);
                resolver.AddRenderNode(scanned);
            }
            var links = resolver.Finish();

            var kfdMessage = CaptureMessages.Kfd(snapshot, gpuOf, cpus, KfdHandles(snapshot, kfdInodes, renderNodes));
            var renderMessages = renderNodes.Select((n, i) => CaptureMessages.RenderNode(n, ImageIds.RenderNode(i), resolver)).ToList();
            var devices = new List<DeviceContents>();
            foreach (var device in snapshot.Devices)
                devices.Add(GpuContents(device.user_gpu_id, gpuOf[device.user_gpu_id], snapshot, kfdInodes, chunkSize));
            for (var i = 0; i < renderNodes.Count; i++)
            {
                var contents = RenderContents(renderNodes, i, resolver, links, snapshot, kfdInodes, gpuOf, chunkSize);
                if (contents.Files.Count > 0) devices.Add(contents);
            }
            held.AddRange(devices.SelectMany(d => d.Bos).Where(b => b.Path == BoCopyPath.CopyEngine).Select(b => b.Dmabuf).Distinct());
            return new CapturedProcess(kfd.Pid, [.. snapshot.Devices.Select(d => gpuOf[d.user_gpu_id])], kfdMessage, renderMessages, links,
                devices.Where(d => d.Chunks.Count > 0 || d.Files.Count > 0).ToList(), open) { HeldDmabufs = new HeldFds(driver, held) };
        }
        catch
        {
            held.Clear();
            foreach (var node in open) node.Dispose();
            throw;
        }
        finally
        {
            driver.CloseFds([.. fds.Except(held)]);
        }
    }

    private static GpuNode LocalGpu(IReadOnlyList<GpuNode> topology, uint actualGpuId) =>
        topology.FirstOrDefault(g => g.GpuId == actualGpuId)
        ?? throw new DriverException(Errno.ENODEV, "CRIU_OP(CHECKPOINT)", $"GPU 0x{actualGpuId:x}", detail: "reported by KFD but not in the topology");

    /// <summary>
    /// kfd_bo_entry.handle as the plugin means it: the GEM handle under which a render file of the process holds the
    /// BO's buffer (a file of the BO's own GPU first), or 0xFFFFFFFF when none does.
    /// </summary>
    private static uint[] KfdHandles(KfdSnapshot snapshot, ulong?[] inodes, IReadOnlyList<RenderNodeSnapshot> nodes)
    {
        // Indexed once (a process may hold 100 000 BOs): the handle of the first render BO of each dmabuf, on the BO's
        // own GPU first, else on any GPU, in the nodes' order.
        var onGpu = new Dictionary<(uint GpuId, ulong Inode), uint>();
        var anywhere = new Dictionary<ulong, uint>();
        foreach (var node in nodes)
        foreach (var bo in node.Bos)
        {
            onGpu.TryAdd((node.GpuId, bo.DmabufInode), bo.Handle);
            anywhere.TryAdd(bo.DmabufInode, bo.Handle);
        }
        var handles = new uint[snapshot.Bos.Length];
        for (var i = 0; i < handles.Length; i++)
        {
            handles[i] = CaptureMessages.NoHandle;
            if (inodes[i] is not { } inode) continue;
            if (onGpu.TryGetValue((snapshot.Bos[i].gpu_id, inode), out var handle) || anywhere.TryGetValue(inode, out handle)) handles[i] = handle;
        }
        return handles;
    }

    private static BoSource KfdSource(KfdSnapshot snapshot, ulong?[] inodes, int index, uint userGpuId, GpuNode gpu, string label, uint id)
    {
        var bucket = snapshot.Bos[index];
        var source = new BoSource(gpu.DrmRenderMinor, bucket.offset, bucket.size, label, id) { Inode = inodes[index] ?? 0 };
        return CopyEngineRule.ForKfd((KfdAllocFlags)bucket.alloc_flags, gpu)
            ? source with { Path = BoCopyPath.CopyEngine, Dmabuf = (int)bucket.dmabuf_fd, ImageKey = $"kfd:0x{userGpuId:x}:{index}" }
            : source;
    }

    private static DeviceContents GpuContents(uint userGpuId, GpuNode gpu, KfdSnapshot snapshot, ulong?[] inodes, int chunkSize)
    {
        var bos = snapshot.Bos
            .Select((b, i) => (Bucket: b, Index: i))
            .Where(x => x.Bucket.gpu_id == userGpuId && ((KfdAllocFlags)x.Bucket.alloc_flags).HasContents())
            .Select(x => KfdSource(snapshot, inodes, x.Index, userGpuId, gpu, BoNames.Kfd(x.Index, userGpuId, x.Bucket.addr, x.Bucket.size), (uint)x.Index))
            .ToList();
        return ContentPlanner.OnePageFile($"GPU 0x{userGpuId:x}", ImageFileName.KfdPages(ImageIds.Kfd, userGpuId), bos, chunkSize);
    }

    private static BoSource RenderSource(RenderNodeSnapshot node, RenderBo bo, GpuNode gpu, string label, uint id)
    {
        var source = new BoSource(node.Minor, bo.MmapOffset, bo.Entry.size, label, id) { Inode = bo.DmabufInode };
        return CopyEngineRule.ForRender(bo.Entry.preferred_domains, bo.Entry.alloc_flags, gpu) ? source with { Path = BoCopyPath.CopyEngine, Dmabuf = bo.DmabufFd } : source;
    }

    /// <summary>
    /// One drm-pages file per BO the plugin restores contents of: every BO it owns, and every import with VRAM/GTT
    /// contents and a mapping. An import's bytes are read where its exporter keeps them (the same memory).
    /// </summary>
    private static DeviceContents RenderContents(IReadOnlyList<RenderNodeSnapshot> nodes, int index, ImportResolver resolver,
        IReadOnlyList<ResolvedImport> links, KfdSnapshot snapshot, ulong?[] kfdInodes, IReadOnlyDictionary<uint, GpuNode> gpuOf, int chunkSize)
    {
        var node = nodes[index];
        var id = ImageIds.RenderNode(index);
        var device = index == 0 || nodes[index - 1].Minor != node.Minor ? $"renderD{node.Minor}" : $"renderD{node.Minor} (file {id})";
        var bos = new List<(BoSource, string)>();
        for (var k = 0; k < node.Bos.Count; k++)
        {
            var bo = node.Bos[k];
            if (bo.Entry.size == 0) continue;
            var label = BoNames.Render(bo.Handle, node.Minor, node.GpuId, bo.Mappings.Length > 0 ? bo.Mappings[0].addr : 0, bo.Entry.size);
            BoSource source;
            if (!resolver.IsImport(bo))
                source = RenderSource(node, bo, gpuOf[node.GpuId], label, bo.Handle);
            else if (CaptureMessages.ImportHasContents(bo))
                source = links.Single(l => l.NodeIndex == index && l.Handle == bo.Handle).Exporter switch
                {
                    Exporter.Kfd e => KfdSource(snapshot, kfdInodes, e.BoIndex, e.GpuId, gpuOf[e.GpuId], label, bo.Handle) with { Size = bo.Entry.size },
                    Exporter.Render e => RenderSource(nodes[e.NodeIndex], nodes[e.NodeIndex].Bos.Single(b => b.Handle == e.Handle), gpuOf[nodes[e.NodeIndex].GpuId], label, bo.Handle)
                        with { Size = bo.Entry.size },
                    var other => throw new InvalidOperationException($"unknown exporter {other}"),
                };
            else
                continue;
            if (source.Path == BoCopyPath.CopyEngine) source = source with { ImageKey = $"render:{id}:{bo.Handle}" };
            bos.Add((source, ImageFileName.DrmPages(id, node.Minor, k)));
        }
        return ContentPlanner.FilePerBo(device, bos, chunkSize);
    }
}
