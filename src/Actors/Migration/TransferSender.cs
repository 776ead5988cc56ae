using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Streams the source image to the target while it is being written: pieces (chunks as they land, then whatever the
/// committed manifest adds) are taken as frames from the memory the checkpoint wrote them from
/// (<see cref="CapturedPieces"/>), or else read back from the source image, checked against their checksums and cut
/// into frames, and sent, at most <see cref="MigrationSettings.Window"/> unacknowledged: over the target node's data port
/// (<see cref="FrameLink"/>) when it has one, else through remoting as byte arrays. A frame counts as delivered only
/// when the target acknowledges it (through remoting); when acknowledgements stop for the ack timeout (a broken link or
/// association, a lost frame), the frames not yet confirmed are sent again — never the confirmed ones — within the
/// retry budget. When the
/// budget is spent the sender tells its coordinator and holds everything; if the target's engine restarted
/// (<see cref="Retarget"/>), the copy is begun again there, every confirmed frame is checked against what the new
/// incarnation finds on its disk (a check frame: header and checksum, no bytes), and only the frames it lost are read
/// back and sent.
/// </summary>
public sealed class TransferSender : ReceiveActor, IWithTimers
{
    private readonly string _migrationId;
    private readonly string _sourceDir;
    private readonly MigrationSettings _settings;
    private readonly CapturedPieces? _kept;
    private readonly bool _live;
    private readonly Queue<TransferPiece> _pending = new();
    private readonly HashSet<string> _announced = [];
    private readonly Queue<(long Seq, byte[] Frame, bool Again)> _ready = new();
    private readonly SortedDictionary<long, byte[]> _inFlight = new();
    // Frames put on the wire more than once: their arrays are not returned to the pool.
    private readonly HashSet<long> _sentAgain = [];
    // Every frame the target confirmed, by seq (header only): what a restarted target is asked to check.
    private readonly Dictionary<long, TransferFrame> _confirmed = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Stopwatch _sinceProgress = Stopwatch.StartNew();
    private IActorRef _target;
    private FrameLink? _link;
    private (string Host, int Port, string Token)? _data;
    private readonly Stopwatch _linkOpened = new();
    private SealImage? _seal;
    private BeginImage? _begin;
    private object? _awaiting;
    private bool _begun, _reading, _sealSent, _held;
    private long _nextSeq, _bytesSent, _bytesResent, _bytesConfirmed, _bytesKept, _imageBytes;
    private int _retries, _linkBreaks, _rereading, _restarts;
    // The confirmed frame at each place of a file: a place sent again with new bytes (a live copy's next round) replaces it.
    private readonly Dictionary<(string File, long Offset), long> _confirmedAt = [];
    private IActorRef? _drainWaiter;

    /// <param name="kept">The chunks the checkpoint has just written, kept in memory: a piece found there is not read back.</param>
    /// <param name="live">The image of a live migration (<see cref="BeginImage.Live"/>).</param>
    public TransferSender(string migrationId, IActorRef target, string sourceDir, MigrationSettings settings, CapturedPieces? kept = null, bool live = false)
    {
        _kept = kept;
        _live = live;
        _migrationId = migrationId;
        _target = target;
        _sourceDir = sourceDir;
        _settings = settings;
        Receive<SendPieces>(p =>
        {
            foreach (var piece in p.Pieces)
                if (_announced.Add(piece.Key))
                {
                    _pending.Enqueue(piece);
                    _imageBytes += piece.Length;
                }
            Pump();
        });
        Receive<SealWhenDone>(s =>
        {
            _seal = new SealImage(_migrationId, s.Files, s.Links, s.Seal);
            Pump();
        });
        Receive<Begun>(b => Ask(_begin = new BeginImage(_migrationId, b.Manifest.ImageId, b.Manifest.Source, b.Manifest.Topology, _live)));
        Receive<ImageBegun>(b =>
        {
            if (_begun) return;
            _begun = true;
            _awaiting = null;
            OpenLink(b);
            Progressed();
            Pump();
        });
        Receive<PieceRead>(r =>
        {
            _reading = false;
            foreach (var (seq, frame) in r.Frames) _ready.Enqueue((seq, frame, false));
            Pump();
        });
        Receive<FrameAck>(a =>
        {
            if (!_inFlight.Remove(a.Seq, out var frame)) return;
            var header = TransferFrame.ReadHeader(frame);
            if (header.Check) _bytesKept += header.Length;
            else if (_confirmed.TryAdd(a.Seq, header))
            {
                _bytesConfirmed += frame.Length;
                var place = (header.FileName, header.Offset);
                var latest = a.Seq;
                if (_confirmedAt.TryGetValue(place, out var other))
                {
                    _confirmed.Remove(Math.Min(other, a.Seq));
                    latest = Math.Max(other, a.Seq);
                }
                _confirmedAt[place] = latest;
            }
            // A frame sent once is no one's once acknowledged; one sent again may still wait in a link or in remoting.
            if (!_sentAgain.Remove(a.Seq)) FramePool.Shared.Return(frame);
            Progressed();
            Pump();
        });
        Receive<FrameMissing>(m =>
        {
            if (!_inFlight.Remove(m.Seq, out var check)) return;
            var lost = TransferFrame.ReadHeader(check);
            var dir = _sourceDir;
            _rereading++;
            Task.Run(() => new Reread(lost.Seq, PieceFrames.ReadAgain(dir, lost))).PipeTo(Self);
            Pump();
        });
        Receive<Reread>(r =>
        {
            _rereading--;
            _ready.Enqueue((r.Seq, r.Frame, true));
            Pump();
        });
        Receive<TargetLost>(_ => _held = true);
        Receive<Retarget>(r => Retarget(r.Target));
        Receive<FrameRejected>(r =>
        {
            if (!_inFlight.TryGetValue(r.Seq, out var frame)) return;
            if (!Spend($"frame {r.Seq} was refused on arrival: {r.Reason}")) return;
            Send(r.Seq, frame, again: true);
        });
        Receive<ImageSealed>(s =>
        {
            if (_awaiting is not SealImage) return;
            _awaiting = null;
            Context.Parent.Tell(new TransferDone(_imageBytes, _bytesSent, _bytesResent, _linkBreaks, _retries, _clock.Elapsed.TotalSeconds,
                _restarts, _bytesKept));
            Context.Stop(Self);
        });
        Receive<TargetFailed>(f =>
        {
            Context.Parent.Tell(f);
            Context.Stop(Self);
        });
        Receive<Status.Failure>(f => Fail($"reading the source image: {f.Cause.Message}"));
        Receive<LinkFailed>(f =>
        {
            if (f.Link != _link) return;
            _link.Dispose();
            _link = null;
            // A link that never connected is not tried again: frames go through remoting. One that broke is opened again
            // at once, unless it had just been opened (a target that closes every link must not make the sender spin):
            // then at the next ack timeout. What it lost goes again at the ack timeout.
            if (f.Connected)
            {
                _linkBreaks++;
                if (_linkOpened.Elapsed >= _settings.AckTimeout) OpenLink();
            }
            else _data = null;
            Context.GetLogger().Warning("migration {0}: the data link to the target failed ({1}); {2}", _migrationId, f.Reason,
                f.Connected ? "it is opened again and what it lost is sent again" : "frames go through remoting");
        });
        Receive<DisassociatedEvent>(d =>
        {
            if (d.RemoteAddress == _target.Path.Address) _linkBreaks++;
        });
        Receive<Tick>(_ => CheckProgress());
        Receive<WhenSent>(_ =>
        {
            _drainWaiter = Sender;
            Pump();
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string migrationId, IActorRef target, string sourceDir, MigrationSettings settings, CapturedPieces? kept = null, bool live = false) =>
        Akka.Actor.Props.Create(() => new TransferSender(migrationId, target, sourceDir, settings, kept, live));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromMilliseconds(Math.Max(100, _settings.AckTimeout.TotalMilliseconds / 4)));
    }

    protected override void PostStop()
    {
        _link?.Dispose();
        Context.System.EventStream.Unsubscribe(Self);
    }

    /// <summary>A target whose node has a data port gets its frames over a connection of their own; any other through remoting.</summary>
    private void OpenLink(ImageBegun begun)
    {
        _link?.Dispose();
        _link = null;
        _data = begun is { DataPort: > 0, DataToken: { } token } && _target.Path.Address.Host is { } host ? (host, begun.DataPort, token) : null;
        OpenLink();
    }

    private void OpenLink()
    {
        if (_data is not { } data) return;
        _link = FrameLink.Open(data.Host, data.Port, data.Token, Self, _settings.Tls);
        _linkOpened.Restart();
    }

    private void Pump()
    {
        if (_awaiting is not null || _held) return;
        if (!_begun)
        {
            if (_pending.Count == 0 && _seal is null) return;
            // The manifest exists (in progress) once the first chunk or the commit was reported.
            var dir = _sourceDir;
            Task.Run(() => new Begun(ManifestCodec.Load(dir))).PipeTo(Self);
            _awaiting = "begin";
            return;
        }
        SendReady();
        while (!_reading && _pending.Count > 0 && _ready.Count < _settings.Window)
        {
            var piece = _pending.Dequeue();
            var frames = (int)Math.Max(1, (piece.Length + _settings.FrameSize - 1) / _settings.FrameSize);
            var first = _nextSeq;
            _nextSeq += frames;
            if (_kept?.Take(piece, first) is { } inMemory)
            {
                foreach (var (seq, frame) in inMemory) _ready.Enqueue((seq, frame, false));
                SendReady();
                continue;
            }
            _reading = true;
            var dir = _sourceDir;
            var frameSize = _settings.FrameSize;
            Task.Run(() => new PieceRead(PieceFrames.Read(dir, piece, first, frameSize))).PipeTo(Self);
        }
        if (_seal is not null && !_sealSent && !_reading && _rereading == 0 && _pending.Count == 0 && _ready.Count == 0 && _inFlight.Count == 0)
        {
            _sealSent = true;
            Ask(_seal);
        }
        if (_drainWaiter is not null && _awaiting is null && !_reading && _rereading == 0 && _pending.Count == 0 && _ready.Count == 0 && _inFlight.Count == 0)
        {
            _drainWaiter.Tell(AllSent.Instance);
            _drainWaiter = null;
        }
    }

    /// <summary>Frames ready go out while the window has room.</summary>
    private void SendReady()
    {
        while (_inFlight.Count < _settings.Window && _ready.TryDequeue(out var next)) Send(next.Seq, next.Frame, next.Again);
    }

    /// <summary>
    /// The target's engine restarted: everything unconfirmed goes to the new incarnation, every confirmed frame is
    /// checked there, and the copy is begun again (the target takes up what its dead engine wrote).
    /// </summary>
    private void Retarget(IActorRef target)
    {
        _held = false;
        _retries = 0;
        _sinceProgress.Restart();
        if (target.Equals(_target))
        {
            // The same target answers again: what it has not acknowledged goes again at the next ack timeout.
            Pump();
            return;
        }
        _target = target;
        _restarts++;
        _link?.Dispose();
        _link = null;
        _data = null;
        var again = _inFlight.Select(f => (f.Key, f.Value)).ToList();
        _sentAgain.UnionWith(_inFlight.Keys);
        _inFlight.Clear();
        var queued = _ready.ToList();
        _ready.Clear();
        foreach (var (seq, frame) in again)
        {
            var header = TransferFrame.ReadHeader(frame);
            // A check that was under way is asked again; a frame never confirmed is sent whole.
            _ready.Enqueue(header.Check ? (seq, frame, false) : (seq, frame, true));
        }
        foreach (var confirmed in _confirmed.Values.OrderBy(c => c.Seq)) _ready.Enqueue((confirmed.Seq, TransferFrame.EncodeCheck(confirmed), false));
        foreach (var entry in queued) _ready.Enqueue(entry);
        _sealSent = false;
        _begun = false;
        _awaiting = null;
        if (_begin is not null) Ask(_begin);
        else Pump();
    }

    private void Send(long seq, byte[] frame, bool again)
    {
        if (_inFlight.ContainsKey(seq)) _sentAgain.Add(seq);
        _inFlight[seq] = frame;
        if (again) _bytesResent += frame.Length;
        _bytesSent += frame.Length;
        if (_link is null || !_link.Post(frame)) _target.Tell(frame, Self);
    }

    private void Ask(object request)
    {
        _awaiting = request;
        _sinceProgress.Restart();
        _target.Tell(request, Self);
    }

    private void Progressed()
    {
        _sinceProgress.Restart();
        Context.Parent.Tell(new TransferProgress(_bytesConfirmed, _imageBytes, _bytesResent));
    }

    /// <summary>No acknowledgement for the ack timeout: the link broke or frames were lost; resend what is unconfirmed.</summary>
    private void CheckProgress()
    {
        var waiting = _inFlight.Count > 0 || _awaiting is BeginImage or SealImage;
        if (_held || !waiting || _sinceProgress.Elapsed < _settings.AckTimeout) return;
        var why = $"no acknowledgement from the target for {_settings.AckTimeout.TotalSeconds:0.#} s";
        if (_retries >= _settings.RetryBudget)
        {
            // Silence, not refusal: the coordinator decides whether to wait for a restarted target or to roll back.
            _held = true;
            Context.Parent.Tell(new TargetSilent($"{why}; retry budget of {_settings.RetryBudget} spent"));
            return;
        }
        _retries++;
        _sinceProgress.Restart();
        if (_link is null) OpenLink();
        if (_awaiting is { } request and not string) _target.Tell(request, Self);
        foreach (var (seq, frame) in _inFlight.ToList()) Send(seq, frame, again: !TransferFrame.ReadHeader(frame).Check);
    }

    private bool Spend(string why)
    {
        if (++_retries <= _settings.RetryBudget) return true;
        Fail($"{why}; retry budget of {_settings.RetryBudget} spent");
        return false;
    }

    private void Fail(string reason)
    {
        Context.Parent.Tell(new TransferFailed(reason, _bytesConfirmed, _bytesResent));
        Context.Stop(Self);
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
        private Tick() { }
    }

    private sealed record Begun(ImageManifest Manifest) : INoSerializationVerificationNeeded;

    private sealed record PieceRead(IReadOnlyList<(long Seq, byte[] Frame)> Frames) : INoSerializationVerificationNeeded;

    private sealed record Reread(long Seq, byte[] Frame) : INoSerializationVerificationNeeded;
}
