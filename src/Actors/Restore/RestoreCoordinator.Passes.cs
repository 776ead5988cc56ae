using Akka.Actor;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>
/// The render-node passes of a restore, at the level of the BO actors: a device actor per render node, visited in the
/// image's order each pass; an import whose exporter does not exist yet is skipped and tried in the next pass; a pass
/// that restores nothing while BOs are left rolls the restore back, naming each importer and the exporter it waits for.
/// </summary>
public sealed partial class RestoreCoordinator
{
    private readonly List<(string Device, IActorRef Actor)> _renderNodes = [];
    private readonly List<string> _waiting = [];
    private int _pass, _passNode, _passRestored, _passLeft;

    /// <summary>One device actor per render node, its BO actors ready for the passes; the passes visit the nodes in image order.</summary>
    private void StartPasses()
    {
        BeginPhase("passes");
        var image = _plan!.Image;
        var links = image.Imports.ToDictionary(l => (l.RenderNodeId, l.GemHandle));
        foreach (var node in image.RenderNodes.Where(n => n.BoEntries.Count > 0))
        {
            var device = _session!.DeviceOf(node);
            var bos = RenderRestorePasses.BosOf([node])
                .Select(b => (b, b.IsImport ? links[(b.NodeId, b.Handle)] : null))
                .ToList();
            _renderNodes.Add((device, StartRenderNode(device, new RenderNodeWork(bos, _session!))));
        }
        _pass = 0;
        NextPass();
    }

    private void NextPass()
    {
        if (_renderNodes.Count == 0 || (_pass > 0 && _passLeft == 0))
        {
            PassesDone();
            return;
        }
        if (_pass > 0 && _passRestored == 0)
        {
            StopDevices();
            RollBack($"render restore pass {_pass} made no progress: {string.Join("; ", _waiting)}");
            return;
        }
        _pass++;
        _passNode = 0;
        _passRestored = 0;
        _passLeft = 0;
        _waiting.Clear();
        _renderNodes[0].Actor.Tell(new RunPass(_pass));
    }

    private void OnPassDone(PassDone done)
    {
        if (done.Failure is not null)
        {
            StopDevices();
            RollBack($"render restore pass {done.Pass}: {done.Failure}");
            return;
        }
        _passRestored += done.Restored;
        _passLeft += done.Left;
        _waiting.AddRange(done.Waiting);
        if (++_passNode < _renderNodes.Count) _renderNodes[_passNode].Actor.Tell(new RunPass(_pass));
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
        Record(new DeviceStateDone(session.Pid, session.RestoredOffsets, _pass), OpenContents);
    }
}
