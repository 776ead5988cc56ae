using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors.Copy;

/// <summary>
/// Copies one device's chunks with a fixed number of workers that pull work, so at most that many chunks of this
/// device are in flight. Publishes progress on the event stream, then <see cref="DeviceCopied"/> or — after every chunk in flight has
/// landed — <see cref="DeviceCopyFailed"/>.
/// </summary>
public sealed class DeviceCopyActor : ReceiveActor
{
    private readonly string _device;
    private readonly IReadOnlyList<CopyChunk> _chunks;
    private readonly Func<CopyChunk, CancellationToken, Task<ulong>> _copy;
    private readonly int _workers;
    private readonly long _total;
    private readonly Stopwatch _clock = new();
    private int _next;
    private int _done;
    private int _inFlight;
    private long _bytes;
    private string? _failure;

    public DeviceCopyActor(string device, IReadOnlyList<CopyChunk> chunks, Func<CopyChunk, CancellationToken, Task<ulong>> copy, int workers)
    {
        _device = device;
        _chunks = chunks;
        _copy = copy;
        _workers = Math.Max(1, workers);
        _total = chunks.Sum(c => (long)c.Length);
        Receive<RequestWork>(_ => Dispatch(Sender));
        Receive<ChunkCopied>(Handle);
        Receive<ChunkFailed>(Handle);
        Receive<AbortCopy>(_ =>
        {
            _failure ??= $"{_device}: aborted";
            FailWhenDrained();
        });
    }

    public static Props Props(string device, IReadOnlyList<CopyChunk> chunks, Func<CopyChunk, CancellationToken, Task<ulong>> copy, int workers) =>
        Akka.Actor.Props.Create(() => new DeviceCopyActor(device, chunks, copy, workers));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    protected override void PreStart()
    {
        _clock.Start();
        if (_chunks.Count == 0)
        {
            Finish();
            return;
        }
        for (var i = 0; i < Math.Min(_workers, _chunks.Count); i++)
            Context.ActorOf(CopyWorker.Props(_chunks, _copy), $"worker-{i}");
    }

    private void Dispatch(IActorRef worker)
    {
        if (_failure is not null || _next >= _chunks.Count)
        {
            worker.Tell(NoMoreWork.Instance);
            return;
        }
        _inFlight++;
        worker.Tell(new CopyChunkWork(_next++));
    }

    private void Handle(ChunkCopied copied)
    {
        _inFlight--;
        _done++;
        _bytes += copied.Bytes;
        Context.Parent.Tell(new ChunkLanded(_device, copied.ChunkIndex, copied.Checksum));
        Context.System.EventStream.Publish(new DeviceProgress(_device, _bytes, _total, _inFlight));
        if (_failure is null && _done == _chunks.Count)
        {
            Finish();
            return;
        }
        Dispatch(Sender);
        FailWhenDrained();
    }

    private void Handle(ChunkFailed failed)
    {
        _inFlight--;
        _failure ??= $"{_device}: chunk at file offset {_chunks[failed.ChunkIndex].FileOffset}: {failed.Reason}";
        Sender.Tell(NoMoreWork.Instance);
        FailWhenDrained();
    }

    private void FailWhenDrained()
    {
        if (_failure is null || _inFlight > 0) return;
        Context.Parent.Tell(new DeviceCopyFailed(_device, _failure));
        Context.Stop(Self);
    }

    private void Finish()
    {
        Context.Parent.Tell(new DeviceCopied(_device, _bytes, _clock.Elapsed.TotalSeconds));
        Context.Stop(Self);
    }
}
