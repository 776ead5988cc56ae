using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// Turns a paused process's driver state into image metadata and a copy plan: KFD CHECKPOINT, every render node's
/// BOs and mappings, the import links between them, and one <see cref="DeviceContents"/> per GPU and per render node.
/// </summary>
public static class CheckpointCapture
{
    public static CapturedProcess Capture(IGpuDriver driver, IKfdFile kfd, KfdProcessInfo info, int chunkSize)
    {
        var topology = driver.Topology();
        var snapshot = KfdCheckpoint.Checkpoint(kfd, info);
        var fds = snapshot.Bos.Select(b => b.dmabuf_fd).Where(fd => fd != KfdSnapshot.InvalidFd).ToList();
        try
        {
            var actualOf = snapshot.Devices.ToDictionary(d => d.user_gpu_id, d => d.actual_gpu_id);
            var userOf = snapshot.Devices.ToDictionary(d => d.actual_gpu_id, d => d.user_gpu_id);
            var gpuOf = snapshot.Devices.ToDictionary(d => d.user_gpu_id, d => LocalGpu(topology, d.actual_gpu_id));

            var resolver = new ImportResolver();
            resolver.AddKfd(snapshot.Bos
                .Select((b, i) => (Bucket: b, Index: i))
                .Where(x => x.Bucket.dmabuf_fd != KfdSnapshot.InvalidFd)
                .Select(x => (x.Bucket.gpu_id, x.Index, x.Bucket.addr, driver.DmabufInode((int)x.Bucket.dmabuf_fd))));

            var renderNodes = new List<RenderNodeSnapshot>();
            foreach (var minor in driver.RenderMinorsOpenedBy(kfd.Pid).Order())
            {
                var gpu = topology.FirstOrDefault(g => g.DrmRenderMinor == minor)
                          ?? throw new DriverException(Errno.ENODEV, "open", $"renderD{minor}", detail: "no such GPU in the topology");
                if (!userOf.TryGetValue(gpu.GpuId, out var userGpuId))
                    throw new DriverException(Errno.EINVAL, "CRIU_OP(CHECKPOINT)", $"renderD{minor}", detail: $"GPU 0x{gpu.GpuId:x} is not one of the process's KFD devices");
                using var node = driver.OpenRenderNode(kfd.Pid, minor);
                var scanned = RenderNodeScanner.Scan(driver, node, userGpuId);
                renderNodes.Add(scanned);
                resolver.AddRenderNode(scanned);
            }
            var links = resolver.Finish();

            var kfdMessage = KfdMessage(snapshot, gpuOf);
            var renderMessages = renderNodes.Select((n, i) => RenderMessage(n, i)).ToList();
            var devices = new List<DeviceContents>();
            foreach (var device in snapshot.Devices)
                devices.Add(GpuContents(device.user_gpu_id, gpuOf[device.user_gpu_id], snapshot, chunkSize));
            for (var i = 0; i < renderNodes.Count; i++)
            {
                var contents = RenderContents(renderNodes[i], i, chunkSize);
                if (contents.Files.Count > 0) devices.Add(contents);
            }
            return new CapturedProcess(kfd.Pid, [.. snapshot.Devices.Select(d => gpuOf[d.user_gpu_id])], kfdMessage, renderMessages, links,
                devices.Where(d => d.Chunks.Count > 0 || d.Files.Count > 0).ToList());
        }
        finally
        {
            foreach (var fd in fds) driver.CloseFd((int)fd);
        }
    }

    private static GpuNode LocalGpu(IReadOnlyList<GpuNode> topology, uint actualGpuId) =>
        topology.FirstOrDefault(g => g.GpuId == actualGpuId)
        ?? throw new DriverException(Errno.ENODEV, "CRIU_OP(CHECKPOINT)", $"GPU 0x{actualGpuId:x}", detail: "reported by KFD but not in the topology");

    private static CriuKfd KfdMessage(KfdSnapshot snapshot, IReadOnlyDictionary<uint, GpuNode> gpuOf)
    {
        var message = new CriuKfd
        {
            Pid = snapshot.Pid,
            NumOfGpus = (uint)snapshot.Devices.Length,
            NumOfCpus = 0,
            NumOfBos = (ulong)snapshot.Bos.Length,
            NumOfObjects = snapshot.NumObjects,
            SharedMemSize = 0,
            SharedMemMagic = 0,
            PrivData = Google.Protobuf.ByteString.CopyFrom(snapshot.PrivData),
        };
        foreach (var device in snapshot.Devices) message.DeviceEntries.Add((gpuOf[device.user_gpu_id] with { GpuId = device.user_gpu_id }).ToDeviceEntry());
        for (var i = 0; i < snapshot.Bos.Length; i++)
        {
            var b = snapshot.Bos[i];
            message.BoEntries.Add(new KfdBoEntry { Addr = b.addr, Size = b.size, Offset = b.offset, AllocFlags = b.alloc_flags, GpuId = b.gpu_id, Handle = (uint)i });
        }
        return message;
    }

    private static CriuRenderNode RenderMessage(RenderNodeSnapshot node, int index)
    {
        var message = new CriuRenderNode { GpuId = node.GpuId, Id = (uint)ImageIds.RenderNode(index), DrmRenderMinor = node.Minor, NumOfBos = (ulong)node.Bos.Count };
        foreach (var bo in node.Bos)
        {
            var entry = new DrmBoEntry
            {
                Addr = bo.Mappings.Length > 0 ? bo.Mappings[0].addr : 0,
                Size = bo.Entry.size,
                Offset = bo.MmapOffset,
                AllocFlags = bo.Entry.alloc_flags,
                Alignment = AmdgpuGem.GpuPageSize,
                PreferredDomains = (uint)bo.Entry.preferred_domains,
                Handle = bo.Handle,
                IsImport = bo.IsImport ? 1u : 0u,
                NumOfVms = (uint)bo.Mappings.Length,
            };
            foreach (var m in bo.Mappings)
                entry.VmEntries.Add(new DrmVmEntry
                {
                    Addr = m.addr,
                    Size = m.size,
                    Offset = m.offset,
                    Flags = m.flags,
                });
            message.BoEntries.Add(entry);
        }
        return message;
    }

    private static DeviceContents GpuContents(uint userGpuId, GpuNode gpu, KfdSnapshot snapshot, int chunkSize)
    {
        var bos = snapshot.Bos
            .Select((b, i) => (Bucket: b, Index: i))
            .Where(x => x.Bucket.gpu_id == userGpuId && ((KfdAllocFlags)x.Bucket.alloc_flags).HasContents())
            .Select(x => new BoSource(gpu.DrmRenderMinor, x.Bucket.offset, x.Bucket.size,
                BoNames.Kfd(x.Index, userGpuId, x.Bucket.addr, x.Bucket.size), (uint)x.Index))
            .ToList();
        return ContentPlanner.OnePageFile($"GPU 0x{userGpuId:x}", ImageFileName.KfdPages(ImageIds.Kfd, userGpuId), bos, chunkSize);
    }

    private static DeviceContents RenderContents(RenderNodeSnapshot node, int nodeIndex, int chunkSize)
    {
        var bos = node.Bos
            .Select((bo, boIndex) => (Bo: bo, Index: boIndex))
            .Where(x => !x.Bo.IsImport && x.Bo.Entry.size > 0)
            .Select(x => (new BoSource(node.Minor, x.Bo.MmapOffset, x.Bo.Entry.size,
                    BoNames.Render(x.Bo.Handle, node.Minor, node.GpuId, x.Bo.Mappings.Length > 0 ? x.Bo.Mappings[0].addr : 0, x.Bo.Entry.size), x.Bo.Handle),
                ImageFileName.DrmPages(ImageIds.RenderNode(nodeIndex), node.Minor, x.Index)))
            .ToList();
        return ContentPlanner.FilePerBo($"renderD{node.Minor}", bos, chunkSize);
    }
}
