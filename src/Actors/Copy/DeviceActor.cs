using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// One GPU's or render node's copy, parent of its BO actors. It grants copy slots: at most
/// <see cref="EngineSettings.WorkersPerDevice"/> chunks are in flight, each holding one buffer of the job's pool, so
/// memory stays flat whatever the BO sizes and counts; a BO actor exists only while it has pieces in flight. A chunk
/// on a checkpoint: its BO actors read their pieces into the buffer, then one write (checksummed) puts it in the page
/// file; on a restore: one verified read from the page file, then its BO actors write their pieces. Reports every
/// chunk landed, then <see cref="DeviceCopied"/>, or, once nothing is in flight, the first failure naming the BO, the
/// chunk and the errno. A render node's device actor first runs the restore passes of its BOs (DeviceActor.Passes.cs).
/// </summary>
public sealed partial class DeviceActor : ReceiveActor, IWithTimers
{
    private readonly string _device;
    private readonly EngineSettings _settings;
    private readonly ChunkPool _pool;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<int, InFlight> _inFlight = new();
    private readonly Dictionary<int, IActorRef> _bos = new();
    private readonly Dictionary<int, List<InFlight>?> _preparedBos = new(); // BOs of whole chunks declared ahead: the chunks waiting for the call, null once it answered
    private readonly Stopwatch _clock = new();
    private RetryingIo _fileIo = null!;
    private DeviceWork? _work;
    private int[] _answersLeft = [];
    private int[] _landingsLeft = [];
    private int _next;
    private long _bytesDone, _bytesTotal;
    private int _bosDone, _bosTotal;
    private string? _failure;

    public DeviceActor(string device, DeviceWork? work, RenderNodeWork? render, EngineSettings settings, ChunkPool pool)
    {
        _device = device;
        _settings = settings;
        _pool = pool;
        _work = work;
        _render = render;
        Receive<CopyContents>(c => StartContents(c.Work));
        Receive<AbortCopy>(_ => Abort($"{_device}: stopped because another device failed"));
        Receive<BufferRented>(OnRented);
        Receive<RentFailed>(f => EndChunk(_inFlight[f.Chunk], landed: false, 0));
        Receive<MapsPrepared>(m => Share(_inFlight[m.Chunk]));
        Receive<WholeMapsPrepared>(OnWholeMapsPrepared);
        Receive<PieceDone>(p => OnPiece(p.Chunk, p.BoIndex, null, p.Checksum));
        Receive<PieceFailed>(p => OnPiece(p.Chunk, p.BoIndex, p.Reason, 0));
        Receive<IoDone>(d => OnFileIo((int)d.Key, _fileIo.Handle(d)));
        Receive<IoRetry>(r => OnFileIo((int)r.Key, _fileIo.Handle(r)));
        Passes();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A device that copies contents now.</summary>
    public static Props Props(DeviceWork work, EngineSettings settings, ChunkPool pool) =>
        Akka.Actor.Props.Create(() => new DeviceActor(work.Plan.Device, work, null, settings, pool));

    /// <summary>A render node being restored: passes first, contents once <see cref="CopyContents"/> comes.</summary>
    public static Props ForRenderNode(string device, RenderNodeWork render, EngineSettings settings, ChunkPool pool) =>
        Akka.Actor.Props.Create(() => new DeviceActor(device, null, render, settings, pool));

    /// <summary>The actor name of a device (names hold no spaces).</summary>
    public static string ActorName(string device) => Uri.EscapeDataString(device.Replace(' ', '-'));

    private static string BoActorName(BoSource bo) => $"bo-{bo.Id}";

    private DeviceWork Work => _work!;

    /// <summary>BO actors answer for themselves; one that throws is a bug and stops (its chunk then fails).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    protected override void PreStart()
    {
        _fileIo = new RetryingIo(Self, Timers, IoThreads.For(Context.System), _settings, _stop.Token);
        if (_settings.PublishActorTree) Context.System.EventStream.Publish(new ActorStartedAt(Self.Path.ToStringWithoutAddress()));
        if (_render is not null) StartRenderBos();
        if (_work is not null) StartContents(_work);
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        // Tasks still running keep their holds: each buffer goes back to the pool when the last one has ended.
        foreach (var chunk in _inFlight.Values) chunk.Abandon();
        // BOs declared ahead whose chunks never ran (a failure stopped the copy): nothing stale is left with the driver.
        if (_preparedBos.Count > 0 && _work?.ForgetMaps is { } forget) forget([.. _preparedBos.Keys.Select(b => _work.Plan.Bos[b])]);
    }

    private void StartContents(DeviceWork work)
    {
        _work = work;
        _clock.Restart();
        var plan = work.Plan;
        _answersLeft = new int[plan.Bos.Count];
        _landingsLeft = new int[plan.Bos.Count];
        foreach (var index in work.Remaining)
        {
            var chunk = plan.Chunks[index];
            _bytesTotal += chunk.Length;
            foreach (var piece in chunk.Pieces)
            {
                _answersLeft[piece.BoIndex]++;
                _landingsLeft[piece.BoIndex]++;
            }
        }
        _bosTotal = _landingsLeft.Count(n => n > 0);
        Publish();
        Dispatch();
        if (work.Remaining.Count == 0) Finish();
    }

    /// <summary>Work pulling: a free slot takes the next chunk, first waiting for a buffer of the pool.</summary>
    private void Dispatch()
    {
        while (_failure is null && _inFlight.Count < _settings.WorkersPerDevice && _next < Work.Remaining.Count)
        {
            var index = Work.Remaining[_next];
            var slot = new InFlight(index) { Position = _next++ };
            _inFlight[index] = slot;
            var self = Self;
            _pool.RentAsync(_stop.Token).AsTask().ContinueWith(t =>
                {
                    if (!t.IsCompletedSuccessfully) self.Tell(new RentFailed(index, t.Exception?.InnerException ?? new OperationCanceledException()));
                    else if (slot.Offer(t.Result)) self.Tell(new BufferRented(index));
                },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private void OnRented(BufferRented rented)
    {
        var chunk = _inFlight[rented.Chunk];
        var c = Work.Plan.Chunks[chunk.Index];
        if (_failure is not null) EndChunk(chunk, landed: false, 0);
        else if (c.Pieces.Count == 1) PrepareWhole(chunk, c);
        else PrepareMaps(chunk, c);
    }

    /// <summary>BOs of whole chunks declared to the driver in one call per this many chunks ahead.</summary>
    private const int WholeMapsAhead = 512;

    /// <summary>
    /// A chunk of one BO whose mapping is not open: that BO and those of the next whole chunks are declared to the driver
    /// together (a render node's thousands of small BOs, one call instead of one each), as a task; each of those chunks
    /// waits for that call's answer, so every BO declared is mapped exactly once, after it.
    /// </summary>
    private void PrepareWhole(InFlight chunk, CopyChunk c)
    {
        var bo = c.Pieces[0].BoIndex;
        if (Work.PrepareMaps is not { } prepare || _bos.ContainsKey(bo))
        {
            SendWhole(chunk, c);
            return;
        }
        if (_preparedBos.TryGetValue(bo, out var waiting))
        {
            if (waiting is null) SendWhole(chunk, c);
            else waiting.Add(chunk);
            return;
        }
        var plan = Work.Plan;
        var batch = new List<int> { bo };
        _preparedBos[bo] = [chunk];
        var remaining = Work.Remaining;
        for (var at = chunk.Position + 1; at < remaining.Count && at <= chunk.Position + WholeMapsAhead; at++)
        {
            var next = plan.Chunks[remaining[at]];
            if (next.Pieces.Count != 1) continue;
            var other = next.Pieces[0].BoIndex;
            if (_bos.ContainsKey(other) || !_preparedBos.TryAdd(other, [])) continue;
            batch.Add(other);
        }
        var bos = batch.Select(b => plan.Bos[b]).ToList();
        Task.Factory.StartNew(() => prepare(bos), _stop.Token, TaskCreationOptions.DenyChildAttach, IoThreads.For(Context.System))
            .PipeTo(Self, success: () => new WholeMapsPrepared(batch), failure: _ => new WholeMapsPrepared(batch));
    }

    /// <summary>The declaration answered (whatever its outcome: a BO the driver refuses fails on its own mapping, naming itself).</summary>
    private void OnWholeMapsPrepared(WholeMapsPrepared prepared)
    {
        foreach (var bo in prepared.Bos)
        {
            var waiting = _preparedBos[bo];
            _preparedBos[bo] = null;
            foreach (var chunk in waiting!)
            {
                if (!_inFlight.ContainsKey(chunk.Index)) continue;
                if (_failure is not null) EndChunk(chunk, landed: false, 0);
                else SendWhole(chunk, Work.Plan.Chunks[chunk.Index]);
            }
        }
    }

    /// <summary>
    /// A chunk shared by small BOs: the ones whose only piece it holds, and that have no mapping yet, are declared to
    /// the driver together (one call instead of one per BO), as a task; the chunk goes on when that is done, whatever
    /// its outcome (a BO the driver refuses fails on its own MapBo, naming itself).
    /// </summary>
    private void PrepareMaps(InFlight chunk, CopyChunk c)
    {
        if (Work.PrepareMaps is not { } prepare)
        {
            Share(chunk);
            return;
        }
        var single = c.Pieces.Where(p => _answersLeft[p.BoIndex] == 1 && !_bos.ContainsKey(p.BoIndex))
            .Select(p => Work.Plan.Bos[p.BoIndex]).ToList();
        if (single.Count < 2)
        {
            Share(chunk);
            return;
        }
        var index = chunk.Index;
        Task.Factory.StartNew(() => prepare(single), _stop.Token, TaskCreationOptions.DenyChildAttach, IoThreads.For(Context.System))
            .PipeTo(Self, success: () => new MapsPrepared(index), failure: _ => new MapsPrepared(index));
    }

    /// <summary>A shared chunk's pieces go to their BO actors (checkpoint), or the chunk is read first (restore).</summary>
    private void Share(InFlight chunk)
    {
        if (_failure is not null) EndChunk(chunk, landed: false, 0);
        else if (Work.Saving) SendPieces(chunk);
        else ReadChunk(chunk);
    }

    /// <summary>A chunk of one BO is that BO actor's to move, file side included (one task, no copy it can avoid).</summary>
    private void SendWhole(InFlight chunk, CopyChunk c)
    {
        chunk.Whole = true;
        chunk.PiecesLeft = 1;
        BoActorOf(c.Pieces[0].BoIndex).Tell(new CopyWhole(c, chunk.Index, chunk.Lease!,
            Work.Saving ? Work.Sinks![c.FileIndex] : null, Work.Saving ? null : Work.Sources![c.FileIndex]));
    }

    private void SendPieces(InFlight chunk)
    {
        var plan = Work.Plan;
        var pieces = plan.Chunks[chunk.Index].Pieces;
        chunk.PiecesLeft = pieces.Count;
        foreach (var piece in pieces) BoActorOf(piece.BoIndex).Tell(new CopyPiece(chunk.Index, piece, chunk.Lease!));
    }

    private IActorRef BoActorOf(int boIndex)
    {
        if (_bos.TryGetValue(boIndex, out var actor)) return actor;
        var bo = Work.Plan.Bos[boIndex];
        var contents = new BoContents(boIndex, bo, _answersLeft[boIndex], Work.Saving, Work.Map);
        var name = BoActorName(bo);
        var existing = Context.Child(name);
        if (existing.IsNobody()) actor = Context.ActorOf(BoActor.ForContents(_device, contents, _settings), name);
        else
        {
            // A render BO that restored itself in the passes now writes its contents.
            actor = existing;
            actor.Tell(contents);
        }
        _bos[boIndex] = actor;
        return actor;
    }

    private void OnPiece(int index, int boIndex, string? failure, ulong checksum)
    {
        if (--_answersLeft[boIndex] == 0) _bos.Remove(boIndex);
        var chunk = _inFlight[index];
        if (failure is not null)
        {
            chunk.Failed = true;
            _failure ??= $"{failure}, {Work.Plan.DescribeChunk(index)}";
        }
        if (--chunk.PiecesLeft > 0) return;
        if (chunk.Failed) EndChunk(chunk, landed: false, 0);
        else if (chunk.Whole) EndChunk(chunk, landed: true, checksum);
        else if (_failure is not null) EndChunk(chunk, landed: false, 0);
        else if (Work.Saving) WriteChunk(chunk);
        else EndChunk(chunk, landed: true, 0);
    }

    /// <summary>Checkpoint: the chunk's one write to its page file, which checksums it.</summary>
    private void WriteChunk(InFlight chunk)
    {
        var c = Work.Plan.Chunks[chunk.Index];
        var sink = Work.Sinks![c.FileIndex];
        var lease = chunk.Lease!;
        var buffer = lease.Buffer;
        var faults = FaultPoint(chunk.Index, c);
        _fileIo.Start(chunk.Index, cancel => ChunkCopy.Write(sink, c, buffer.Span, faults, cancel), lease.Hold);
    }

    /// <summary>Restore: the chunk's one read from its page file, every segment's checksum checked as it streams.</summary>
    private void ReadChunk(InFlight chunk)
    {
        var c = Work.Plan.Chunks[chunk.Index];
        var source = Work.Sources![c.FileIndex];
        var lease = chunk.Lease!;
        var buffer = lease.Buffer;
        var faults = FaultPoint(chunk.Index, c);
        _fileIo.Start(chunk.Index, cancel =>
        {
            ChunkCopy.Read(source, c, buffer.Span, faults, cancel);
            return null;
        }, lease.Hold);
    }

    private ChunkFaultPoint FaultPoint(int index, CopyChunk c)
    {
        var bos = Work.Plan.Bos;
        return new ChunkFaultPoint(_settings.Faults, _device, index, c.Pieces.Select(p => bos[p.BoIndex].Label));
    }

    private void OnFileIo(int index, IoOutcome outcome)
    {
        if (outcome.Stale || outcome.Retrying) return;
        var chunk = _inFlight[index];
        if (outcome.Failed)
        {
            var plan = Work.Plan;
            _failure ??= $"{plan.BosOf(plan.Chunks[index])}, {plan.DescribeChunk(index)}: {CopyErrors.Describe(outcome.Error!, outcome.Attempts)}";
            EndChunk(chunk, landed: false, 0);
        }
        else if (Work.Saving) EndChunk(chunk, landed: true, (ulong)outcome.Result!);
        else if (_failure is not null) EndChunk(chunk, landed: false, 0);
        else SendPieces(chunk);
    }

    private void EndChunk(InFlight chunk, bool landed, ulong checksum)
    {
        chunk.Abandon();
        _inFlight.Remove(chunk.Index);
        if (landed)
        {
            var c = Work.Plan.Chunks[chunk.Index];
            _bytesDone += c.Length;
            foreach (var piece in c.Pieces)
                if (--_landingsLeft[piece.BoIndex] == 0) _bosDone++;
            Context.Parent.Tell(new ChunkLanded(_device, chunk.Index, checksum));
            Publish();
        }
        if (_failure is not null) FailWhenDrained();
        else if (_next == Work.Remaining.Count && _inFlight.Count == 0) Finish();
        else Dispatch();
    }

    private void Abort(string reason)
    {
        _failure ??= reason;
        _stop.Cancel();
        FailWhenDrained();
    }

    private void FailWhenDrained()
    {
        if (_inFlight.Count > 0 || _fileIo.Count > 0) return;
        Context.Parent.Tell(new DeviceCopyFailed(_device, _failure!));
        Context.Stop(Self);
    }

    private void Finish()
    {
        Publish();
        Context.Parent.Tell(new DeviceCopied(_device, _bytesDone, _clock.Elapsed.TotalSeconds));
        Context.Stop(Self);
    }

    private void Publish() => Context.System.EventStream.Publish(
        new DeviceProgress(_work?.Plan.Label ?? _device, _bytesDone, _bytesTotal, _inFlight.Count, _bosDone, _bosTotal));

    /// <summary>A chunk's slot: its buffer arrives from the pool on another thread, possibly after the device stopped.</summary>
    private sealed class InFlight(int index)
    {
        private readonly Lock _gate = new();
        private bool _abandoned;

        public int Index { get; } = index;
        public int Position { get; init; } // in the work's remaining chunks
        public ChunkPool.Lease? Lease { get; private set; }

        /// <summary>Takes the rented buffer, or gives it straight back when the slot was abandoned (no message could return it then).</summary>
        public bool Offer(ChunkPool.Lease lease)
        {
            lock (_gate)
            {
                if (!_abandoned)
                {
                    Lease = lease;
                    return true;
                }
            }
            lease.Dispose();
            return false;
        }

        /// <summary>The slot lets go of its buffer: back to the pool once the tasks holding it have ended.</summary>
        public void Abandon()
        {
            ChunkPool.Lease? lease;
            lock (_gate)
            {
                _abandoned = true;
                lease = Lease;
                Lease = null;
            }
            lease?.Dispose();
        }
        public int PiecesLeft { get; set; }
        public bool Failed { get; set; }
        public bool Whole { get; set; }
    }
}
