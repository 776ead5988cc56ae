using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Reads what an image holds, whatever its state: an in-progress or failed image is shown too, with its state.
/// It does not check checksums (that is <see cref="ImageVerifier"/>); a file it cannot parse becomes a problem line.
/// </summary>
public static class ImageInspector
{
    public static ImageInspection Inspect(string dir)
    {
        var manifest = ManifestCodec.Load(dir);
        var problems = new List<string>();
        var kfds = new List<CriuKfd>();
        var renders = new List<(ImageFileName Name, string File, CriuRenderNode Node)>();
        var dmabufs = new List<InspectedDmabuf>();
        var files = new List<InspectedFile>();

        // An in-progress or failed image lists no files yet: show what its writer left on disk too.
        var unlisted = Directory.EnumerateFiles(dir, "amdgpu-*").Select(p => Path.GetFileName(p))
            .Where(n => manifest.FindFile(n) is null).Order(StringComparer.Ordinal)
            .Select(n => new ManifestFile(n, new FileInfo(Path.Combine(dir, n)).Length, [])).ToList();
        if (manifest.State == ImageState.Committed)
            problems.AddRange(unlisted.Select(f => $"{f.Name}: not listed in the manifest"));
        foreach (var entry in manifest.Files.Concat(unlisted))
        {
            var path = Path.Combine(dir, entry.Name);
            var present = File.Exists(path);
            var name = ImageFileName.TryParse(entry.Name);
            files.Add(new InspectedFile(entry.Name, name?.Kind.ToString() ?? "unknown", entry.Size, entry.Segments.Count, present));
            if (!present) problems.Add($"{entry.Name}: missing");
            if (name is null || !present || MessageFiles.ParserFor(name.Kind) is not { } parser) continue;
            try
            {
                switch (MessageFiles.ParseAny(entry.Name, ImageFiles.ReadMessageFile(dir, entry.Name), parser))
                {
                    case CriuKfd kfd: kfds.Add(kfd); break;
                    case CriuRenderNode node: renders.Add((name, entry.Name, node)); break;
                    case CriuDmabufNode d: dmabufs.Add(new InspectedDmabuf(name.Id, d.GemHandle, entry.Name)); break;
                }
            }
            catch (ImageException e)
            {
                problems.Add(e.Message);
            }
        }

        var kfdBos = KfdBos(kfds);
        var pagesFiles = files.Select(f => ImageFileName.TryParse(f.Name)).OfType<ImageFileName>().ToList();
        var devices = (kfds.Count > 0 ? kfds.SelectMany(k => k.DeviceEntries).Where(e => !e.IsCpu()).Select(e => e.ToGpuNode()) : manifest.Topology)
            .Select(g => new InspectedDevice(g.GpuId, g.NodeId, g.VendorId, g.DeviceId, g.DrmRenderMinor, g.HiveId, g.SimdCount, g.VramSize,
                kfdBos.Count(b => b.GpuId == g.GpuId),
                kfdBos.Where(b => b.GpuId == g.GpuId && b.PagesOffset is not null).Aggregate(0UL, (s, b) => s + b.Size),
                pagesFiles.FirstOrDefault(p => p.Kind == ImageFileKind.KfdPages && p.GpuId == g.GpuId) is { } p
                    ? ImageFileName.KfdPages(p.Id, p.GpuId) : null))
            .ToList();
        var imports = manifest.Links.OfType<ImportLink>().ToList();
        var renderNodes = renders.OrderBy(r => r.Name.Id).Select(r => new InspectedRenderNode(r.Name.Id, r.Node.GpuId, r.Node.DrmRenderMinor, r.File,
            [.. r.Node.BoEntries.Select((bo, i) => new InspectedRenderBo(i, bo.Handle, Domains(bo.PreferredDomains), bo.Addr, bo.Size,
                bo.AllocFlags, bo.Alignment, bo.IsImport != 0,
                [.. bo.VmEntries.Select(v => new InspectedMapping(v.Addr, v.Size, v.Offset, v.Flags))],
                pagesFiles.Contains(new ImageFileName(ImageFileKind.DrmPages, r.Name.Id, 0, r.Node.DrmRenderMinor, i))
                    ? ImageFileName.DrmPages(r.Name.Id, r.Node.DrmRenderMinor, i) : null,
                imports.FirstOrDefault(l => l.RenderNodeId == r.Name.Id && l.GemHandle == bo.Handle) is { } link ? Describe(link) : null))]))
            .ToList();

        return new ImageInspection(Path.GetFullPath(dir), manifest.ImageId, StateName(manifest.State), manifest.FailureReason,
            manifest.FormatVersion, manifest.ToolVersion, manifest.Created, manifest.Finished, manifest.Source, devices, kfdBos,
            renderNodes, dmabufs, manifest.Links, files, manifest.Extra, problems, manifest.Parent,
            manifest.Files.SelectMany(f => f.Segments).Where(s => s.InParent).Sum(s => s.Length),
            manifest.Files.SelectMany(f => f.Segments).Where(s => s.Packed && !s.InParent).Sum(s => s.Length),
            manifest.Files.SelectMany(f => f.Segments).Where(s => s.Packed && !s.InParent).Sum(s => s.Lz4));
    }

    public static string StateName(ImageState state) => state switch
    {
        ImageState.InProgress => "in-progress",
        ImageState.Committed => "committed",
        _ => "failed",
    };

    /// <summary>KFD BOs in bucket order; contents of a GPU's BOs lie back to back in its pages file in that order.</summary>
    private static List<InspectedKfdBo> KfdBos(List<CriuKfd> kfds)
    {
        var next = new Dictionary<uint, long>();
        var list = new List<InspectedKfdBo>();
        foreach (var bo in kfds.SelectMany(k => k.BoEntries))
        {
            var flags = (KfdAllocFlags)bo.AllocFlags;
            long? at = null;
            if (flags.HasContents())
            {
                at = next.GetValueOrDefault(bo.GpuId);
                next[bo.GpuId] = at.Value + (long)bo.Size;
            }
            list.Add(new InspectedKfdBo(list.Count, bo.GpuId, Domain(flags), bo.Addr, bo.Size, bo.Offset, bo.Handle, bo.AllocFlags, at));
        }
        return list;
    }

    private static string Domain(KfdAllocFlags f) =>
        (f & KfdAllocFlags.Userptr) != 0 ? "userptr"
        : (f & KfdAllocFlags.Doorbell) != 0 ? "doorbell"
        : (f & KfdAllocFlags.MmioRemap) != 0 ? "mmio"
        : (f & KfdAllocFlags.Vram) != 0 ? "vram"
        : (f & KfdAllocFlags.Gtt) != 0 ? "gtt"
        : "none";

    private static string Domains(uint d)
    {
        var names = new List<string>();
        if ((d & AmdgpuGem.DomainVram) != 0) names.Add("vram");
        if ((d & AmdgpuGem.DomainGtt) != 0) names.Add("gtt");
        if ((d & AmdgpuGem.DomainCpu) != 0) names.Add("cpu");
        if ((d & (AmdgpuGem.DomainGds | AmdgpuGem.DomainGws | AmdgpuGem.DomainOa)) != 0) names.Add("gds/gws/oa");
        return names.Count > 0 ? string.Join('|', names) : "none";
    }

    private static string Describe(ImportLink l) => l.ExporterKind == ExporterKind.Kfd
        ? $"kfd gpu {l.ExporterGpuId:x4} addr 0x{l.ExporterAddr:x}"
        : $"render node {l.ExporterRenderNodeId} handle {l.ExporterHandle}";
}
