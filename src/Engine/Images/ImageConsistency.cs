using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Cross-file rules of a committed image: whatever a restore will look up must be there exactly once, and every
/// count, size and address must agree between the manifest, the KFD file, the render nodes and the page files. Run
/// before any device is touched, so an image that passes cannot fail a restore for a reason the image could tell.
/// Each violation names the file it is in.
/// </summary>
public static class ImageConsistency
{
    /// <summary>Largest GPU virtual address space (57 bits): no BO or mapping extends past it.</summary>
    public const ulong AddressLimit = 1UL << 57;

    public static void Check(ImageManifest manifest, CriuKfd kfd, IReadOnlyList<(string File, CriuRenderNode Node)> renderNodes,
        IReadOnlyList<(string File, CriuDmabufNode Node)> dmabufs)
    {
        var kfdFile = ImageFileName.Kfd(ImageIds.Kfd);
        var kinds = manifest.Files.Select(f => ImageFileName.Parse(f.Name)).ToList();
        var stray = kinds.FirstOrDefault(k => k.Kind == ImageFileKind.Kfd && k.Id != ImageIds.Kfd);
        if (stray is not null) throw new ImageException(stray.FileName, null, $"a second KFD file: the image's KFD file is {kfdFile}");
        var gpus = CheckDevices(manifest, kfd, kfdFile);
        CheckKfdBos(kfd, kfdFile, gpus);
        var used = new Dictionary<string, long> { [kfdFile] = -1 };
        var optional = new Dictionary<string, long>();
        foreach (var gpu in kfd.DeviceEntries)
        {
            var bytes = kfd.BoEntries.Where(b => b.GpuId == gpu.GpuId && ((KfdAllocFlags)b.AllocFlags).HasContents())
                .Aggregate(0L, (sum, b) => checked(sum + (long)b.Size));
            // A GPU without KFD contents (no KFD BO at all, or none with memory) may have an empty page file, or none.
            if (bytes > 0) used[ImageFileName.KfdPages(ImageIds.Kfd, gpu.GpuId)] = bytes;
            else if (!gpu.IsCpu()) optional[ImageFileName.KfdPages(ImageIds.Kfd, gpu.GpuId)] = 0;
        }
        var nonImports = CheckRenderNodes(renderNodes, gpus, used, optional);
        CheckImports(manifest, kfd, renderNodes, nonImports);
        // CRIU's dmabuf files: fds the process holds. A restore here recreates imports from the links, not from these.
        foreach (var (file, _) in dmabufs) used[file] = -1;

        foreach (var f in manifest.Files)
        {
            if (!used.TryGetValue(f.Name, out var payload) && !optional.TryGetValue(f.Name, out payload))
                throw new ImageException(f.Name, null, "listed in the manifest but no BO or device of the image uses it");
            if (payload >= 0 && f.Size - LengthPrefix.Size != payload)
                throw new ImageException(f.Name, 0, $"holds {f.Size - LengthPrefix.Size} payload bytes, its BOs need {payload}");
        }
        var listed = manifest.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var absent = used.Keys.Order(StringComparer.Ordinal).FirstOrDefault(n => !listed.Contains(n));
        if (absent is not null) throw new ImageException(absent, null, "missing: the image's BOs need it but the manifest does not list it");
    }

    /// <summary>
    /// Device entries: CPUs and GPUs counted right, each GPU once, each GPU entry a GPU of the manifest's topology with
    /// the same properties (its links cut to the image's nodes, as the checkpoint writes them).
    /// </summary>
    private static Dictionary<uint, KfdDeviceEntry> CheckDevices(ImageManifest manifest, CriuKfd kfd, string kfdFile)
    {
        var cpus = kfd.DeviceEntries.Count(e => e.IsCpu());
        var gpuEntries = kfd.DeviceEntries.Where(e => !e.IsCpu()).ToList();
        if (kfd.NumOfGpus != gpuEntries.Count)
            throw new ImageException(kfdFile, null, $"num_of_gpus is {kfd.NumOfGpus} but {gpuEntries.Count} GPU entries follow");
        if (kfd.NumOfCpus != cpus)
            throw new ImageException(kfdFile, null, $"num_of_cpus is {kfd.NumOfCpus} but {cpus} CPU entries follow");
        if (gpuEntries.Count == 0) throw new ImageException(kfdFile, null, "no GPU device entries: the process used no GPU");
        var nodeIds = kfd.DeviceEntries.Select(e => e.NodeId).ToHashSet();
        var gpus = new Dictionary<uint, KfdDeviceEntry>();
        var unmatched = manifest.Topology.ToList();
        foreach (var d in gpuEntries)
        {
            if (d.GpuId == 0) throw new ImageException(kfdFile, null, $"device entry of node {d.NodeId} has neither a gpu id nor CPU cores");
            if (!gpus.TryAdd(d.GpuId, d)) throw new ImageException(kfdFile, null, $"GPU 0x{d.GpuId:x} has two device entries");
            // The KFD file names a GPU by the id the process knows; the topology by its id on the source machine.
            var source = unmatched.FirstOrDefault(g => (g with { GpuId = d.GpuId }).ToDeviceEntry(nodeIds).Equals(d));
            if (source is null)
                throw new ImageException(kfdFile, null,
                    $"device entry of GPU 0x{d.GpuId:x} matches no GPU of the manifest's topology (the two files disagree)");
            unmatched.Remove(source);
        }
        return gpus;
    }

    private static void CheckKfdBos(CriuKfd kfd, string kfdFile, Dictionary<uint, KfdDeviceEntry> gpus)
    {
        if ((ulong)kfd.BoEntries.Count != kfd.NumOfBos)
            throw new ImageException(kfdFile, null, $"num_of_bos is {kfd.NumOfBos} but {kfd.BoEntries.Count} BO entries follow");
        var seen = new HashSet<(uint, ulong)>();
        for (var i = 0; i < kfd.BoEntries.Count; i++)
        {
            var b = kfd.BoEntries[i];
            var what = $"BO #{i} at 0x{b.Addr:x}";
            if (!gpus.ContainsKey(b.GpuId)) throw new ImageException(kfdFile, null, $"{what} is on GPU 0x{b.GpuId:x}, which the image has no device entry for");
            if (b.Size == 0) throw new ImageException(kfdFile, null, $"{what} has size 0");
            if (b.Size > AddressLimit || b.Addr > AddressLimit - b.Size)
                throw new ImageException(kfdFile, null, $"{what} of {b.Size} bytes runs past the GPU address space (2^57)");
            if (!seen.Add((b.GpuId, b.Addr))) throw new ImageException(kfdFile, null, $"{what}: two BOs at that address on GPU 0x{b.GpuId:x}");
        }
    }

    /// <summary>
    /// Render files: ids as named, on a GPU of the image with its minor, counts right, and handles unique per GPU (a
    /// restore recreates every file of a GPU on one render node); their page files recorded in <paramref name="used"/>.
    /// </summary>
    private static HashSet<(int Node, uint Handle)> CheckRenderNodes(IReadOnlyList<(string File, CriuRenderNode Node)> nodes,
        Dictionary<uint, KfdDeviceEntry> gpus, Dictionary<string, long> used, Dictionary<string, long> optional)
    {
        var nonImports = new HashSet<(int, uint)>();
        foreach (var (file, n) in nodes)
        {
            used[file] = -1;
            if (ImageFileName.RenderNode((int)Math.Min(n.Id, int.MaxValue)) != file)
                throw new ImageException(file, null, $"holds render node id {n.Id}, its name says {ImageFileName.Parse(file).Id}");
            if (!gpus.TryGetValue(n.GpuId, out var gpu))
                throw new ImageException(file, null, $"render node of GPU 0x{n.GpuId:x}, which the image has no device entry for");
            if (n.DrmRenderMinor != gpu.DrmRenderMinor)
                throw new ImageException(file, null, $"render minor {n.DrmRenderMinor}, GPU 0x{n.GpuId:x}'s device entry says {gpu.DrmRenderMinor}");
            if ((ulong)n.BoEntries.Count != n.NumOfBos)
                throw new ImageException(file, null, $"num_of_bos is {n.NumOfBos} but {n.BoEntries.Count} BO entries follow");
            // Each render file has its own handles: two files of one GPU may both hold handle 1.
            var handles = new HashSet<uint>();
            for (var i = 0; i < n.BoEntries.Count; i++)
            {
                var bo = n.BoEntries[i];
                var what = $"BO #{i} (handle {bo.Handle})";
                if (bo.Handle == 0) throw new ImageException(file, null, $"{what}: GEM handle 0 is never a valid handle");
                if (!handles.Add(bo.Handle)) throw new ImageException(file, null, $"{what}: handle {bo.Handle} appears twice in render node {n.Id} (GPU 0x{n.GpuId:x})");
                if (bo.IsImport > 1) throw new ImageException(file, null, $"{what}: is_import is {bo.IsImport}, not 0 or 1");
                if (bo.Size > AddressLimit) throw new ImageException(file, null, $"{what} of {bo.Size} bytes is larger than a GPU address space (2^57)");
                if (bo.NumOfVms != bo.VmEntries.Count)
                    throw new ImageException(file, null, $"{what}: num_of_vms is {bo.NumOfVms} but {bo.VmEntries.Count} mappings follow");
                foreach (var vm in bo.VmEntries)
                    if (vm.Size == 0 || vm.Offset > bo.Size || vm.Size > bo.Size - vm.Offset || vm.Addr > AddressLimit - Math.Min(vm.Size, AddressLimit))
                        throw new ImageException(file, null, $"{what}: mapping at 0x{vm.Addr:x} of {vm.Size} bytes from offset {vm.Offset} lies outside the BO ({bo.Size} bytes) or the address space");
                if (bo.Size == 0) continue;
                var pages = ImageFileName.DrmPages((int)n.Id, n.DrmRenderMinor, i);
                if (bo.IsImport == 0)
                {
                    nonImports.Add(((int)n.Id, bo.Handle));
                    used[pages] = (long)bo.Size;
                }
                else if ((bo.PreferredDomains & (AmdgpuGem.DomainVram | AmdgpuGem.DomainGtt)) != 0 && bo.VmEntries.Count > 0)
                {
                    // The plugin restores a mapped import's contents: the file may be there, at the import's size.
                    optional[pages] = (long)bo.Size;
                }
            }
        }
        return nonImports;
    }

    /// <summary>Every import has exactly one link and every link one import; its exporter is a BO with contents in the image.</summary>
    private static void CheckImports(ImageManifest manifest, CriuKfd kfd, IReadOnlyList<(string File, CriuRenderNode Node)> nodes,
        HashSet<(int Node, uint Handle)> nonImports)
    {
        var links = new Dictionary<(int, uint), ImportLink>();
        var imports = nodes.SelectMany(n => n.Node.BoEntries.Where(b => b.IsImport != 0).Select(b => ((int)n.Node.Id, b.Handle))).ToHashSet();
        var gpuOfNode = nodes.ToDictionary(n => (int)n.Node.Id, n => n.Node.GpuId);
        var kfdExporters = kfd.BoEntries.Where(b => ((KfdAllocFlags)b.AllocFlags).HasContents()).Select(b => (b.GpuId, b.Addr)).ToHashSet();
        foreach (var link in manifest.Links.OfType<ImportLink>())
        {
            var key = (link.RenderNodeId, link.GemHandle);
            var where = $"import of handle {link.GemHandle} on render node {link.RenderNodeId}";
            if (!imports.Contains(key)) throw new ImageException(ImageManifest.FileName, null, $"{where}: no such import BO in the image");
            if (!links.TryAdd(key, link)) throw new ImageException(ImageManifest.FileName, null, $"{where} is recorded twice");
            var present = link.ExporterKind == ExporterKind.Kfd
                ? kfdExporters.Contains((link.ExporterGpuId, link.ExporterAddr!.Value))
                : nonImports.Contains((link.ExporterRenderNodeId!.Value, link.ExporterHandle!.Value))
                  && gpuOfNode[link.ExporterRenderNodeId.Value] == link.ExporterGpuId;
            if (!present)
                throw new ImageException(ImageManifest.FileName, null, $"{where}: its exporter ({Describe(link)}) is not a BO with contents in the image");
        }
        var orphan = imports.FirstOrDefault(i => !links.ContainsKey(i));
        if (imports.Count > links.Count)
            throw new ImageException(ImageFileName.RenderNode(orphan.Item1), null, $"handle {orphan.Item2} is an import but the manifest records no exporter for it");
    }

    private static string Describe(ImportLink link) => link.ExporterKind == ExporterKind.Kfd
        ? $"KFD BO at 0x{link.ExporterAddr:x} on GPU 0x{link.ExporterGpuId:x}"
        : $"render BO handle {link.ExporterHandle} of render node {link.ExporterRenderNodeId}";
}
