using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// One BO's work, child of its device actor. For its contents it moves its pieces of the chunks the device grants it
/// (read from its mapping into the chunk's buffer on a checkpoint, written from it on a restore), several at once for
/// a large BO, each as a task on the I/O threads, transient faults retried with backoff; it opens its mapping for the
/// first piece and closes it after the last, and stops when its pieces are done. A render BO being restored first
/// restores itself in the restore passes: create or import, change its handle back, map every VM mapping; an import
/// whose exporter does not exist yet answers that it is skipped. Every failure it reports names the BO.
/// It dispatches with a switch rather than <see cref="ReceiveActor"/> handlers: a job starts one per BO (100 000 of
/// them), and a receive actor builds its handler table anew for every instance.
/// </summary>
public sealed class BoActor : UntypedActor, IWithTimers
{
    private readonly string _device;
    private readonly EngineSettings _settings;
    private readonly RenderBoRef? _render;
    private readonly ImportLink? _link;
    private readonly RestoreSession? _session;
    private readonly CancellationTokenSource _stop = new();
    private RetryingIo _io = null!;
    private BoContents? _contents;
    private LazyBoMapping? _mapping;
    private int _answered;
    private readonly HashSet<int> _pending = [];

    public BoActor(string device, BoContents? contents, RenderBoRef? render, ImportLink? link, RestoreSession? session, EngineSettings settings)
    {
        _device = device;
        _settings = settings;
        _render = render;
        _link = link;
        _session = session;
        if (contents is not null) SetContents(contents);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A BO whose contents are copied.</summary>
    public static Props ForContents(string device, BoContents contents, EngineSettings settings) =>
        ActorFactory<BoActor>.Props(() => new BoActor(device, contents, null, null, null, settings));

    /// <summary>A render BO to restore in passes (its contents, if any, come later).</summary>
    public static Props ForRenderRestore(string device, RenderBoRef bo, ImportLink? link, RestoreSession session, EngineSettings settings) =>
        ActorFactory<BoActor>.Props(() => new BoActor(device, null, bo, link, session, settings));

    private string Name => _contents?.Source.Label ?? _render?.ToString() ?? Self.Path.Name;

    protected override void PreStart()
    {
        _io = new RetryingIo(Self, Timers, IoThreads.For(Context.System), _settings, _stop.Token);
        if (_settings.PublishActorTree) Context.System.EventStream.Publish(new ActorStartedAt(Self.Path.ToStringWithoutAddress()));
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        // Unmapped once the tasks still using it have ended (they hold it).
        _mapping?.Dispose();
    }

    /// <summary>A handler that throws is a bug: the pieces it held are answered as failed before the actor stops.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e)
        {
            foreach (var chunk in _pending) Context.Parent.Tell(new PieceFailed(chunk, _contents!.Index, $"{Name}: {e.GetType().Name}: {e.Message}"));
            _pending.Clear();
            throw;
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case CopyPiece piece: Copy(piece); break;
            case CopyWhole whole: CopyWhole(whole); break;
            case IoDone done: OnIo(done); break;
            case IoRetry retry: Answer((int)retry.Key, _io.Handle(retry), null); break;
            case BoContents contents: SetContents(contents); break;
            case RestoreBo pass: Restore(pass); break;
            default: Unhandled(message); break;
        }
    }

    private void SetContents(BoContents contents)
    {
        _contents = contents;
        _answered = 0;
        _mapping = new LazyBoMapping(() => contents.Map(contents.Source), contents.Pieces);
    }

    private void Copy(CopyPiece work)
    {
        var contents = _contents!;
        var mapping = _mapping!;
        var piece = work.Piece;
        var lease = work.Buffer;
        var buffer = lease.Buffer;
        var faults = new ChunkFaultPoint(_settings.Faults, _device, work.Chunk, [contents.Source.Label]);
        _pending.Add(work.Chunk);
        Func<CancellationToken, object?> body = cancel =>
        {
            ChunkCopy.Piece(mapping.Get(), piece, buffer.Span, contents.Saving, faults, cancel);
            mapping.Done();
            return null;
        };
        Func<IDisposable?> holds = () => Holds.All(lease.Hold(), mapping.Hold());
        if (CopiesHere(piece.Length, mapping)) Answer(work.Chunk, _io.RunHere(work.Chunk, body, holds), null);
        else _io.Start(work.Chunk, body, holds);
    }

    /// <summary>The largest piece copied on the actor's own thread: a few pages, as long as a hand-off to an I/O thread takes.</summary>
    private const int HereAtMost = 256 << 10;

    /// <summary>
    /// A small piece of a BO reached at memory speed is copied where the actor runs, with no task and no message back:
    /// for a job of 100 000 small BOs, that hand-off costs more than the copy. Not for a BO the copy engine moves (setting
    /// it up waits for the GPU), not when faults are injected (they stall and fail pieces, which the I/O threads' timeouts
    /// and retries are there for), nor when the mapping does not open.
    /// </summary>
    private bool CopiesHere(int length, LazyBoMapping mapping)
    {
        if (length > HereAtMost || _settings.Faults.Faults.Count > 0 || _contents!.Source.Path == BoCopyPath.CopyEngine) return false;
        try
        {
            return mapping.Get().CopiesAtMemorySpeed;
        }
        catch (Exception)
        {
            // Not swallowed: the attempt on the I/O threads opens it again and answers for that failure, retried or not.
            return false;
        }
    }

    /// <summary>
    /// A chunk of this BO alone: hashed and written straight from the mapping (checkpoint), or read straight into it
    /// (restore), or, for a mapping that is not memory, written into it from wherever the source read it, verified as it streams.
    /// </summary>
    private void CopyWhole(CopyWhole work)
    {
        var mapping = _mapping!;
        var chunk = work.Chunk;
        var lease = work.Buffer;
        var buffer = lease.Buffer;
        var faults = new ChunkFaultPoint(_settings.Faults, _device, work.Index, [_contents!.Source.Label]);
        _pending.Add(work.Index);
        _io.Start(work.Index, cancel =>
        {
            var bo = mapping.Get();
            object? result = null;
            if (work.Sink is { } sink) result = ChunkCopy.Save(bo, chunk, buffer.Span, sink, faults, cancel);
            else ChunkCopy.Restore(bo, chunk, buffer.Span, work.Source!, faults, cancel);
            mapping.Done();
            return result;
        }, () => Holds.All(lease.Hold(), mapping.Hold()));
    }

    private void OnIo(IoDone done)
    {
        if (done.Key is int chunk) Answer(chunk, _io.Handle(done), done);
        else Restored(done);
    }

    private void Answer(int chunk, IoOutcome outcome, IoDone? done)
    {
        if (outcome.Stale || outcome.Retrying) return;
        _pending.Remove(chunk);
        var boIndex = _contents!.Index;
        if (outcome.Succeeded) Context.Parent.Tell(new PieceDone(chunk, boIndex, outcome.Result is ulong checksum ? checksum : 0));
        else
        {
            _mapping!.Done();
            Context.Parent.Tell(new PieceFailed(chunk, boIndex, $"{Name}: {CopyErrors.Describe(outcome.Error!, outcome.Attempts)}"));
        }
        if (++_answered == _contents.Pieces) Context.Stop(Self);
    }

    /// <summary>One restore pass: skipped while an import's exporter is missing, else created or imported as a task.</summary>
    private void Restore(RestoreBo pass)
    {
        var bo = _render!;
        var session = _session!;
        var link = _link;
        if (link is not null && session.WaitsFor(link) is { } exporter)
        {
            Context.System.EventStream.Publish(new RenderBoPassed(pass.Pass, bo.ToString(), false, exporter, Self.Path.ToStringWithoutAddress()));
            Context.Parent.Tell(new BoSkipped(pass.Pass, bo.Handle, exporter));
            return;
        }
        if (link is null && session.TakeCreatedAhead(bo, out var error))
        {
            // Its device created it ahead with others: the outcome is there already.
            Restored(new IoDone(pass, 1, null, error));
            return;
        }
        var self = Self;
        Task.Factory.StartNew(() =>
            {
                if (link is null) session.Create(bo);
                else session.Import(bo, link);
            }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, IoThreads.For(Context.System))
            .ContinueWith(t => self.Tell(new IoDone(pass, 1, null, t.Exception?.InnerException)),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Restored(IoDone done)
    {
        var pass = (RestoreBo)done.Key;
        var bo = _render!;
        if (done.Error is null) Context.System.EventStream.Publish(new RenderBoPassed(pass.Pass, bo.ToString(), true, null, Self.Path.ToStringWithoutAddress()));
        Context.Parent.Tell(done.Error is null
            ? new BoRestored(pass.Pass, bo.Handle)
            : new BoRestoreFailed(pass.Pass, bo.Handle, $"{bo}: {CopyErrors.Describe(done.Error, 1)}"));
    }
}
