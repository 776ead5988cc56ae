using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Engine.Restore;

/// <summary>
/// The render-node restore passes as one algorithm, which the dry run (<see cref="RenderRestorePasses"/>) and the restore
/// job's actors both follow: each pass visits the nodes in the image's order; a node's step is its non-imports not yet
/// restored, then each of its imports whose exporter exists by then (a KFD BO always does after KFD RESTORE; a render BO
/// once restored, earlier in this pass or by this step's non-imports). An import whose exporter is not there yet waits
/// for the next pass; a pass that restores nothing while BOs are left is an error naming what waits for what. Work done
/// in an earlier pass (or an earlier attempt) is never redone. One caller drives it; it is not thread-safe.
/// </summary>
public sealed class RenderPassPlan
{
    private readonly IReadOnlyList<RenderBoRef> _all;
    private readonly Dictionary<(int, uint), ImportLink> _linkOf = new();
    private readonly HashSet<(int NodeId, uint Handle)> _done;
    private readonly List<string> _waiting = [];
    private int _restoredThisPass;

    public RenderPassPlan(IReadOnlyList<CriuRenderNode> nodes, IReadOnlyList<ImportLink> links, CriuKfd kfd,
        IEnumerable<(int NodeId, uint Handle)>? alreadyDone = null)
    {
        foreach (var link in links) _linkOf[(link.RenderNodeId, link.GemHandle)] = link;
        _all = RenderRestorePasses.BosOf(nodes);
        _done = [.. alreadyDone ?? []];
        RenderRestorePasses.CheckExporters(nodes, links, kfd);
    }

    /// <summary>The current pass, from 1 once <see cref="BeginPass"/> was called.</summary>
    public int Pass { get; private set; }

    /// <summary>Every render BO of the image is restored.</summary>
    public bool Finished => _all.All(b => _done.Contains((b.NodeId, b.Handle)));

    public void BeginPass()
    {
        Pass++;
        _restoredThisPass = 0;
        _waiting.Clear();
    }

    /// <summary>
    /// One node's step in the current pass: its non-imports left, in image order, then the imports that may follow them.
    /// The imports that must wait are remembered for the pass's error, should it make no progress.
    /// </summary>
    public RenderPassStep Step(int nodeId)
    {
        var left = _all.Where(b => b.NodeId == nodeId && !_done.Contains((b.NodeId, b.Handle))).ToList();
        var creates = left.Where(b => !b.IsImport).ToList();
        var created = creates.Select(b => (b.NodeId, b.Handle)).ToHashSet();
        var imports = new List<(RenderBoRef Bo, ImportLink Link)>();
        foreach (var bo in left.Where(b => b.IsImport))
        {
            var link = _linkOf[(bo.NodeId, bo.Handle)];
            if (RenderRestorePasses.ExporterMissing(link, _done) && !created.Contains((link.ExporterRenderNodeId!.Value, link.ExporterHandle!.Value)))
                _waiting.Add($"{bo} waits for {RenderRestorePasses.Describe(link)}");
            else imports.Add((bo, link));
        }
        return new RenderPassStep(creates, imports);
    }

    /// <summary>Records a BO restored (created or imported) in the current pass.</summary>
    public void Restored(int nodeId, uint handle)
    {
        if (_done.Add((nodeId, handle))) _restoredThisPass++;
    }

    /// <summary>Records that a BO could not go this pass after all (its exporter was not there when it was tried).</summary>
    public void Waits(string why) => _waiting.Add(why);

    /// <summary>Ends the current pass: null, or the error of a pass that restored nothing while BOs are left.</summary>
    public string? EndPass() =>
        _restoredThisPass == 0 && !Finished ? $"render restore pass {Pass} made no progress: {string.Join("; ", _waiting)}" : null;
}
