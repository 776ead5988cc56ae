using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// The criu_kfd and criu_render_node messages of a capture, each field with the meaning CRIU's amdgpu plugin gives it
/// (facts from plugins/amdgpu: amdgpu_plugin.c, amdgpu_plugin_drm.c, amdgpu_plugin_topology.c).
/// </summary>
public static class CaptureMessages
{
    /// <summary>kfd_bo_entry.handle of a BO no render file holds (the plugin's -1).</summary>
    public const uint NoHandle = 0xFFFFFFFF;

    /// <summary>
    /// criu_kfd: the machine's CPU nodes and the process's GPUs as device entries in node order (num_of_cpus counts the
    /// CPUs; GPU entries carry no cpu_cores_count, which the plugin reads as "this is a CPU"; only PCIe and XGMI links to
    /// nodes in the image), and the KFD BOs with the GEM handle a render file holds each under.
    /// </summary>
    public static CriuKfd Kfd(KfdSnapshot snapshot, IReadOnlyDictionary<uint, GpuNode> gpuOf, IReadOnlyList<CpuNode> cpus, IReadOnlyList<uint> handles)
    {
        var gpus = snapshot.Devices.Select(d => gpuOf[d.user_gpu_id] with { GpuId = d.user_gpu_id }).ToList();
        var nodeIds = gpus.Select(g => g.NodeId).Concat(cpus.Select(c => c.NodeId)).ToHashSet();
        var message = new CriuKfd
        {
            Pid = snapshot.Pid,
            NumOfGpus = (uint)gpus.Count,
            NumOfCpus = (uint)cpus.Count,
            NumOfBos = (ulong)snapshot.Bos.Length,
            NumOfObjects = snapshot.NumObjects,
            SharedMemSize = 0,
            SharedMemMagic = 0,
            PrivData = Google.Protobuf.ByteString.CopyFrom(snapshot.PrivData),
        };
        var entries = gpus.Select(g => (g.NodeId, Entry: g.ToDeviceEntry(nodeIds)))
            .Concat(cpus.Select(c => (c.NodeId, Entry: c.ToDeviceEntry(nodeIds))));
        foreach (var (_, entry) in entries.OrderBy(e => e.NodeId)) message.DeviceEntries.Add(entry);
        for (var i = 0; i < snapshot.Bos.Length; i++)
        {
            var b = snapshot.Bos[i];
            message.BoEntries.Add(new KfdBoEntry { Addr = b.addr, Size = b.size, Offset = b.offset, AllocFlags = b.alloc_flags, GpuId = b.gpu_id, Handle = handles[i] });
        }
        return message;
    }

    /// <summary>
    /// criu_render_node: every GEM handle with what GEM_LIST_HANDLES said (alignment included), its mmap offset, its
    /// mappings in bytes, addr as the plugin leaves it (the last mapping's), and is_import for imported buffers.
    /// </summary>
    public static CriuRenderNode RenderNode(RenderNodeSnapshot node, int id, ImportResolver resolver)
    {
        var message = new CriuRenderNode { GpuId = node.GpuId, Id = (uint)id, DrmRenderMinor = node.Minor, NumOfBos = (ulong)node.Bos.Count };
        foreach (var bo in node.Bos)
        {
            var entry = new DrmBoEntry
            {
                Addr = bo.Mappings.Length > 0 ? bo.Mappings[^1].addr : 0,
                Size = bo.Entry.size,
                Offset = bo.MmapOffset,
                AllocFlags = bo.Entry.alloc_flags,
                Alignment = bo.Entry.alignment,
                PreferredDomains = (uint)bo.Entry.preferred_domains,
                Handle = bo.Handle,
                IsImport = resolver.IsImport(bo) ? 1u : 0u,
                NumOfVms = (uint)bo.Mappings.Length,
            };
            foreach (var m in bo.Mappings)
                entry.VmEntries.Add(new DrmVmEntry { Addr = m.addr, Size = m.size, Offset = m.offset, Flags = m.flags });
            message.BoEntries.Add(entry);
        }
        return message;
    }

    /// <summary>Whether the plugin restores an import's contents: it lives in VRAM or GTT and is mapped.</summary>
    public static bool ImportHasContents(RenderBo bo) =>
        (bo.Entry.preferred_domains & (AmdgpuGem.DomainVram | AmdgpuGem.DomainGtt)) != 0 && bo.Mappings.Length > 0;
}
