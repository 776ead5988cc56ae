using Akka.Actor;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// A render node's restore passes, at the level of its BO actors: in each pass every BO not yet restored is asked to
/// restore, its non-imports first, then its imports; an import whose exporter's dmabuf does not exist yet answers that
/// it is skipped and is asked again in the next pass. At most <see cref="EngineSettings.WorkersPerDevice"/> BOs work at
/// once. The restore coordinator runs the passes node by node and fails a pass that makes no progress.
/// </summary>
public sealed partial class DeviceActor
{
    private readonly RenderNodeWork? _render;
    private readonly Dictionary<uint, IActorRef> _renderBos = new();
    private readonly Dictionary<uint, RenderBoRef> _renderRefs = new();
    private readonly HashSet<uint> _restored = [];
    private readonly Queue<uint> _asking = new();
    private readonly List<string> _waiting = [];
    private int _pass, _passRestored, _answersDue;
    private bool _importsAsked;
    private string? _passFailure;

    private void Passes()
    {
        Receive<RunPass>(StartPass);
        Receive<BoRestored>(r =>
        {
            _restored.Add(r.Handle);
            _passRestored++;
            PassAnswered();
        });
        Receive<BoSkipped>(s =>
        {
            _waiting.Add($"{BoOf(s.Handle)} waits for {s.WaitsFor}");
            PassAnswered();
        });
        Receive<BoRestoreFailed>(f =>
        {
            _passFailure ??= f.Reason;
            PassAnswered();
        });
    }

    private void StartRenderBos()
    {
        foreach (var (bo, link) in _render!.Bos)
        {
            _renderRefs[bo.Handle] = bo;
            _renderBos[bo.Handle] = Context.ActorOf(BoActor.ForRenderRestore(_device, bo, link, _render.Session, _settings), $"bo-{bo.Handle}");
        }
    }

    private RenderBoRef BoOf(uint handle) => _renderRefs[handle];

    private void StartPass(RunPass run)
    {
        _pass = run.Pass;
        _passRestored = 0;
        _waiting.Clear();
        _passFailure = null;
        _importsAsked = false;
        foreach (var (bo, _) in _render!.Bos.Where(b => !b.Bo.IsImport && !_restored.Contains(b.Bo.Handle))) _asking.Enqueue(bo.Handle);
        AskMore();
    }

    /// <summary>Keeps at most the device's slots of BOs working; non-imports first, then imports.</summary>
    private void AskMore()
    {
        while (_passFailure is null && _answersDue < _settings.WorkersPerDevice && _asking.TryDequeue(out var handle))
        {
            _answersDue++;
            _renderBos[handle].Tell(new RestoreBo(_pass));
        }
        if (_answersDue > 0) return;
        if (_passFailure is null && !_importsAsked)
        {
            _importsAsked = true;
            foreach (var (bo, _) in _render!.Bos.Where(b => b.Bo.IsImport && !_restored.Contains(b.Bo.Handle))) _asking.Enqueue(bo.Handle);
            if (_asking.Count > 0)
            {
                AskMore();
                return;
            }
        }
        _asking.Clear();
        Context.Parent.Tell(new PassDone(_device, _pass, _passRestored, _render!.Bos.Count - _restored.Count, [.. _waiting], _passFailure));
    }

    private void PassAnswered()
    {
        _answersDue--;
        AskMore();
    }
}
