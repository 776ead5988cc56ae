using Akka.Actor;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// A render node's restore passes, at the level of its BO actors: in each pass the coordinator hands it this node's step
/// of the <see cref="RenderPassPlan"/>: its BOs to create, asked first, then the imports that may follow them (an import
/// whose exporter's dmabuf turns out not to exist answers that it is skipped, and waits). At most
/// <see cref="EngineSettings.WorkersPerDevice"/> BOs work at once. The coordinator runs the passes node by node.
/// </summary>
public sealed partial class DeviceActor
{
    private readonly RenderNodeWork? _render;
    private readonly Dictionary<uint, IActorRef> _renderBos = new();
    private readonly Dictionary<uint, RenderBoRef> _renderRefs = new();
    private readonly List<uint> _restored = [];
    private readonly Queue<uint> _asking = new();
    private readonly List<string> _waiting = [];
    private RenderPassStep? _step;
    private int _pass, _answersDue;
    private bool _importsAsked;
    private string? _passFailure;

    private void Passes()
    {
        Receive<RunPass>(StartPass);
        Receive<CreatedAhead>(c => AskCreates(c.Pass));
        Receive<BoRestored>(r =>
        {
            _restored.Add(r.Handle);
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
        _step = run.Step;
        _restored.Clear();
        _waiting.Clear();
        _passFailure = null;
        _importsAsked = false;
        if (run.Step.Creates.Count < 2)
        {
            AskCreates(run.Pass);
            return;
        }
        // The step's BOs are created ahead, many to a call of the driver; each BO actor then takes its own outcome.
        var (session, nodeId, creates, pass) = (_render!.Session, run.Step.Creates[0].NodeId, run.Step.Creates, run.Pass);
        Task.Factory.StartNew(() => session.CreateAhead(nodeId, creates, CreateAheadBatch), CancellationToken.None,
                TaskCreationOptions.DenyChildAttach, IoThreads.For(Context.System))
            .PipeTo(Self, success: () => new CreatedAhead(pass), failure: _ => new CreatedAhead(pass));
    }

    /// <summary>How many BOs one call of the driver creates ahead (a remote driver answers them in one round trip).</summary>
    private const int CreateAheadBatch = 512;

    /// <summary>
    /// The step's BOs were created ahead (or some were not, when one failed, or the driver broke: each BO then meets its
    /// own outcome); now each is asked for its step.
    /// </summary>
    private void AskCreates(int pass)
    {
        if (pass != _pass) return;
        foreach (var bo in _step!.Creates) _asking.Enqueue(bo.Handle);
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
            foreach (var (bo, _) in _step!.Imports) _asking.Enqueue(bo.Handle);
            if (_asking.Count > 0)
            {
                AskMore();
                return;
            }
        }
        _asking.Clear();
        Context.Parent.Tell(new PassDone(_device, _pass, [.. _restored], [.. _waiting], _passFailure));
    }

    private void PassAnswered()
    {
        _answersDue--;
        AskMore();
    }

    private sealed record CreatedAhead(int Pass) : INoSerializationVerificationNeeded;
}
