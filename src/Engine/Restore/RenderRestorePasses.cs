using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Restore;

/// <summary>
/// Runs <see cref="RenderPassPlan"/>'s passes synchronously through <see cref="IRenderRestoreOps"/> (the dry run and the
/// specs; the restore job's actors follow the same plan), and the rules the plan is made of.
/// </summary>
public static class RenderRestorePasses
{
    public static RenderPassLog Run(IReadOnlyList<CriuRenderNode> nodes, IReadOnlyList<ImportLink> links, CriuKfd kfd, IRenderRestoreOps ops, HashSet<(int NodeId, uint Handle)>? alreadyDone = null)
    {
        var plan = new RenderPassPlan(nodes, links, kfd, alreadyDone);
        var passes = new List<IReadOnlyList<RenderBoRef>>();
        while (!plan.Finished)
        {
            plan.BeginPass();
            var pass = new List<RenderBoRef>();
            foreach (var node in nodes)
            {
                var step = plan.Step((int)node.Id);
                foreach (var bo in step.Creates) ops.Create(bo);
                foreach (var (bo, link) in step.Imports) ops.Import(bo, link);
                foreach (var bo in step.All) plan.Restored(bo.NodeId, bo.Handle);
                pass.AddRange(step.All);
            }
            if (plan.EndPass() is { } stuck) throw new InvalidOperationException(stuck);
            passes.Add(pass);
        }
        return new RenderPassLog(passes);
    }

    /// <summary>The rule of every pass: an import waits while its exporter is a render BO not restored yet (a KFD BO's dmabuf exists after RESTORE).</summary>
    public static bool ExporterMissing(ImportLink link, IReadOnlySet<(int NodeId, uint Handle)> done) =>
        link.ExporterKind == ExporterKind.Render && !done.Contains((link.ExporterRenderNodeId!.Value, link.ExporterHandle!.Value));

    /// <summary>The render BOs of the image, node by node in the image's order.</summary>
    public static IReadOnlyList<RenderBoRef> BosOf(IReadOnlyList<CriuRenderNode> nodes) =>
        [.. nodes.SelectMany(n => n.BoEntries.Select(e => new RenderBoRef((int)n.Id, n.GpuId, n.DrmRenderMinor, e)))];

    /// <summary>An import must have a recorded exporter, and that exporter must be in the image.</summary>
    public static void CheckExporters(IReadOnlyList<CriuRenderNode> nodes, IReadOnlyList<ImportLink> links, CriuKfd kfd)
    {
        var linkOf = new Dictionary<(int, uint), ImportLink>();
        foreach (var link in links) linkOf[(link.RenderNodeId, link.GemHandle)] = link;
        CheckExporters(BosOf(nodes), linkOf, kfd);
    }

    private static void CheckExporters(IReadOnlyList<RenderBoRef> all, IReadOnlyDictionary<(int, uint), ImportLink> linkOf, CriuKfd kfd)
    {
        var renderBos = all.Where(b => b.Entry.IsImport == 0).Select(b => (b.NodeId, b.Handle)).ToHashSet();
        var kfdBos = kfd.BoEntries.Select(b => (b.GpuId, b.Addr)).ToHashSet();
        foreach (var bo in all.Where(b => b.Entry.IsImport != 0))
        {
            if (!linkOf.TryGetValue((bo.NodeId, bo.Handle), out var link))
                throw new ImageException(ImageManifest.FileName, null, $"{bo} is an import but the image records no exporter for it");
            var present = link.ExporterKind == ExporterKind.Kfd
                ? kfdBos.Contains((link.ExporterGpuId, link.ExporterAddr ?? ulong.MaxValue))
                : renderBos.Contains((link.ExporterRenderNodeId ?? -1, link.ExporterHandle ?? uint.MaxValue));
            if (!present)
                throw new ImageException(ImageManifest.FileName, null, $"{bo} imports {Describe(link)}, which is not in the image");
        }
    }

    public static string Describe(ImportLink link) => link.ExporterKind == ExporterKind.Kfd
        ? $"KFD BO at 0x{link.ExporterAddr:x} on GPU 0x{link.ExporterGpuId:x}"
        : $"render BO handle {link.ExporterHandle} on GPU 0x{link.ExporterGpuId:x}";
}
