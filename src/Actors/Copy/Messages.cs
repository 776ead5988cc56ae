using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>Copy these contents (a render node's device actor gets them after its passes).</summary>
internal sealed record CopyContents(DeviceWork Work) : INoSerializationVerificationNeeded;

/// <summary>Restore pass <paramref name="Pass"/>: this node's step of <see cref="RenderPassPlan"/> (these creates, then these imports).</summary>
internal sealed record RunPass(int Pass, RenderPassStep Step) : INoSerializationVerificationNeeded;

/// <summary>A render node's device actor finished pass <paramref name="Pass"/>: the handles it restored, what waits for what.</summary>
internal sealed record PassDone(string Device, int Pass, IReadOnlyList<uint> Restored, IReadOnlyList<string> Waiting, string? Failure) : INoSerializationVerificationNeeded;

/// <summary>The buffer of chunk <paramref name="Chunk"/> was rented (it sits in the chunk's slot).</summary>
internal sealed record BufferRented(int Chunk) : INoSerializationVerificationNeeded;

internal sealed record RentFailed(int Chunk, Exception Error) : INoSerializationVerificationNeeded;

/// <summary>The BOs of a shared chunk were declared to the driver (or that was skipped): the chunk goes on.</summary>
internal sealed record MapsPrepared(int Chunk) : INoSerializationVerificationNeeded;

/// <summary>The driver answered the declaration of these BOs' mappings (whole chunks, DeviceActor.PrepareWhole).</summary>
internal sealed record WholeMapsPrepared(IReadOnlyList<int> Bos) : INoSerializationVerificationNeeded;

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
