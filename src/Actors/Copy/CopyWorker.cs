using Akka.Actor;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors.Copy;

/// <summary>Copies one chunk at a time, pulling the next from its device when done. The copy runs as a task.</summary>
public sealed class CopyWorker : ReceiveActor
{
    private readonly IReadOnlyList<CopyChunk> _chunks;
    private readonly Func<CopyChunk, CancellationToken, Task<ulong>> _copy;
    private readonly CancellationTokenSource _cancel = new();

    public CopyWorker(IReadOnlyList<CopyChunk> chunks, Func<CopyChunk, CancellationToken, Task<ulong>> copy)
    {
        _chunks = chunks;
        _copy = copy;
        Receive<CopyChunkWork>(Handle);
        Receive<ChunkCopied>(done => Context.Parent.Tell(done));
        Receive<ChunkFailed>(failed => Context.Parent.Tell(failed));
        Receive<NoMoreWork>(_ => Context.Stop(Self));
    }

    public static Props Props(IReadOnlyList<CopyChunk> chunks, Func<CopyChunk, CancellationToken, Task<ulong>> copy) =>
        Akka.Actor.Props.Create(() => new CopyWorker(chunks, copy));

    protected override void PreStart() => Context.Parent.Tell(RequestWork.Instance);

    protected override void PostStop() => _cancel.Cancel();

    private void Handle(CopyChunkWork work)
    {
        var chunk = _chunks[work.ChunkIndex];
        _copy(chunk, _cancel.Token).PipeTo(Self,
            success: checksum => new ChunkCopied(work.ChunkIndex, chunk.Length, checksum),
            failure: e => new ChunkFailed(work.ChunkIndex, (e is AggregateException { InnerException: { } inner } ? inner : e).Message));
    }
}
