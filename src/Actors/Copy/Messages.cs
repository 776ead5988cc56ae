using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>What device actors tell their job and publish (these may cross the serializer).</summary>
public interface ICopyMessage;

/// <summary>Progress of one device, published on the event stream: bytes and BOs in place, chunks in flight.</summary>
public sealed record DeviceProgress(string Device, long BytesDone, long BytesTotal, int ChunksInFlight, int BosDone = 0, int BosTotal = 0) : ICopyMessage;

/// <summary>Every chunk of the device is in place.</summary>
public sealed record DeviceCopied(string Device, long Bytes, double Seconds) : ICopyMessage;

/// <summary>The device stopped at a failure (naming the BO, the chunk and the errno); no chunk of it is still in flight.</summary>
public sealed record DeviceCopyFailed(string Device, string Reason) : ICopyMessage;

/// <summary>Stop dispatching, let in-flight chunks land, then report the device as failed.</summary>
public sealed class AbortCopy : ICopyMessage
{
    public static readonly AbortCopy Instance = new();
    private AbortCopy() { }
}

/// <summary>Chunk <paramref name="ChunkIndex"/> of a device is in place: written and checksummed, or restored into its BOs.</summary>
public sealed record ChunkLanded(string Device, int ChunkIndex, ulong Checksum) : ICopyMessage;

/// <summary>A job, device or BO actor started (published only with gpuckpt.copy.publish-actor-tree = on).</summary>
public sealed record ActorStartedAt(string Path) : ICopyMessage;

/// <summary>The BO actor <paramref name="Actor"/> answered restore pass <paramref name="Pass"/>: restored, or skipped because its exporter does not exist yet.</summary>
public sealed record RenderBoPassed(int Pass, string Bo, bool Restored, string? WaitsFor, string Actor) : ICopyMessage;

/// <summary>The work of a device actor: its plan, which chunks are left, and the ends of the copy.</summary>
/// <param name="Remaining">Indexes into the plan's chunks still to copy (after a restart, the journalled ones are not).</param>
/// <param name="Sinks">Checkpoint: the page files, by the plan's file index.</param>
/// <param name="Sources">Restore: the page files, by the plan's file index.</param>
/// <param name="Map">Opens a BO's mapping (read-only for a checkpoint, writable for a restore).</param>
public sealed record DeviceWork(
    DeviceContents Plan,
    IReadOnlyList<int> Remaining,
    IReadOnlyList<IChunkSink>? Sinks,
    IReadOnlyList<IChunkSource>? Sources,
    Func<BoSource, IBoMapping> Map,
    Action<IReadOnlyList<BoSource>>? PrepareMaps = null)
{
    public bool Saving => Sinks is not null;
}

/// <summary>A render node's BOs to restore in passes: each BO with its import link, the session that creates them.</summary>
public sealed record RenderNodeWork(IReadOnlyList<(RenderBoRef Bo, ImportLink? Link)> Bos, RestoreSession Session);

// Between a job and its device actors, and a device actor and its BO actors: they carry live buffers and sessions.

/// <summary>Copy these contents (a render node's device actor gets them after its passes).</summary>
internal sealed record CopyContents(DeviceWork Work) : INoSerializationVerificationNeeded;

/// <summary>Restore pass <paramref name="Pass"/>: every render BO not yet restored is asked to restore.</summary>
internal sealed record RunPass(int Pass) : INoSerializationVerificationNeeded;

/// <summary>A render node's device actor finished pass <paramref name="Pass"/>: what it restored, what waits for what.</summary>
internal sealed record PassDone(string Device, int Pass, int Restored, int Left, IReadOnlyList<string> Waiting, string? Failure) : INoSerializationVerificationNeeded;

/// <summary>The buffer of chunk <paramref name="Chunk"/> was rented (it sits in the chunk's slot).</summary>
internal sealed record BufferRented(int Chunk) : INoSerializationVerificationNeeded;

internal sealed record RentFailed(int Chunk, Exception Error) : INoSerializationVerificationNeeded;

/// <summary>The BOs of a shared chunk were declared to the driver (or that was skipped): the chunk goes on.</summary>
internal sealed record MapsPrepared(int Chunk) : INoSerializationVerificationNeeded;

/// <summary>A BO actor's turn for one piece of a chunk: read it into (checkpoint) or write it from (restore) the buffer.</summary>
internal sealed record CopyPiece(int Chunk, BoPiece Piece, ChunkPool.Lease Buffer) : INoSerializationVerificationNeeded;

/// <summary>
/// A chunk that holds one slice of one BO: the BO actor moves it whole, mapping and file side (straight between its
/// mapping and the file when the mapping allows, else through <paramref name="Buffer"/>).
/// </summary>
internal sealed record CopyWhole(CopyChunk Chunk, int Index, ChunkPool.Lease Buffer, IChunkSink? Sink, IChunkSource? Source) : INoSerializationVerificationNeeded;

/// <param name="Checksum">For a whole chunk saved by its BO actor: the checksum of its write.</param>
internal sealed record PieceDone(int Chunk, int BoIndex, ulong Checksum = 0) : INoSerializationVerificationNeeded;

internal sealed record PieceFailed(int Chunk, int BoIndex, string Reason) : INoSerializationVerificationNeeded;

/// <summary>Restore this render BO in pass <paramref name="Pass"/> (create or import, change handle, map).</summary>
internal sealed record RestoreBo(int Pass) : INoSerializationVerificationNeeded;

internal sealed record BoRestored(int Pass, uint Handle) : INoSerializationVerificationNeeded;

internal sealed record BoSkipped(int Pass, uint Handle, string WaitsFor) : INoSerializationVerificationNeeded;

internal sealed record BoRestoreFailed(int Pass, uint Handle, string Reason) : INoSerializationVerificationNeeded;

/// <summary>An attempt at some I/O ended; <paramref name="Attempt"/> tells a late one from the current one.</summary>
internal sealed record IoDone(object Key, int Attempt, object? Result, Exception? Error) : INoSerializationVerificationNeeded;

/// <summary>A failed attempt's backoff is over: try it again.</summary>
internal sealed record IoRetry(object Key) : INoSerializationVerificationNeeded;
