using Akka.Actor;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>
/// The render-node passes of a restore, at the level of the BO actors: the <see cref="RenderPassPlan"/> the dry run
/// follows too, each node's step handed to that node's device actor in the image's order each pass; a pass that
/// restores nothing while BOs are left rolls the restore back, naming each importer and the exporter it waits for.
/// </summary>
public sealed partial class RestoreCoordinator
{
    private readonly List<(int NodeId, string Device, IActorRef Actor)> _renderNodes = [];
    private RenderPassPlan? _passPlan;
    private int _passNode;

    /// <summary>One device actor per render node, its BO actors ready for the passes; the passes visit the nodes in image order.</summary>
    private void StartPasses()
    {
        if (StopsHere()) return;
        BeginPhase("passes");
        var image = _plan!.Image;
        _passPlan = new RenderPassPlan(image.RenderNodes, image.Imports, image.Kfd);
        var links = image.Imports.ToDictionary(l => (l.RenderNodeId, l.GemHandle));
        foreach (var node in image.RenderNodes.Where(n => n.BoEntries.Count > 0))
        {
            var device = _session!.DeviceOf(node);
            var bos = RenderRestorePasses.BosOf([node])
                .Select(b => (b, b.IsImport ? links[(b.NodeId, b.Handle)] : null))
                .ToList();
            _renderNodes.Add(((int)node.Id, device, StartRenderNode(device, new RenderNodeWork(bos, _session!))));
        }
        NextPass();
    }

    private void NextPass()
    {
        var plan = _passPlan!;
        if (plan.Pass > 0 && plan.EndPass() is { } stuck)
        {
            StopDevices();
            RollBack(stuck);
            return;
        }
        if (_renderNodes.Count == 0 || plan.Finished)
        {
            PassesDone();
            return;
        }
        plan.BeginPass();
        _passNode = 0;
        AskNode();
    }

    /// <summary>Hands the current node its step of the pass (an empty step answers at once).</summary>
    private void AskNode()
    {
        var (nodeId, _, actor) = _renderNodes[_passNode];
        actor.Tell(new RunPass(_passPlan!.Pass, _passPlan.Step(nodeId)));
    }

    private void OnPassDone(PassDone done)
    {
        if (done.Failure is not null)
        {
            StopDevices();
            RollBack($"render restore pass {done.Pass}: {done.Failure}");
            return;
        }
        var nodeId = _renderNodes[_passNode].NodeId;
        foreach (var handle in done.Restored) _passPlan!.Restored(nodeId, handle);
        foreach (var why in done.Waiting) _passPlan!.Waits(why);
        if (++_passNode < _renderNodes.Count) AskNode();
        else NextPass();
    }

    protected override void OnDeviceLost(string device, string reason)
    {
        if (_session is null || State.DeviceState is not null) return;
        StopDevices();
        RollBack($"render restore: {Uri.UnescapeDataString(device)} {reason}");
    }

    private void PassesDone()
    {
        CrashPoints.Hit("render-restored");
        var session = _session!;
        Record(new DeviceStateDone(session.Pid, session.RestoredOffsets, _passPlan!.Pass), OpenContents);
    }
}
