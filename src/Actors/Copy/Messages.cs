namespace Gpuckpt.Actors.Copy;

/// <summary>Messages between a device actor and its copy workers, and its reports to the job.</summary>
public interface ICopyMessage;

/// <summary>A worker asks its device for the next chunk.</summary>
public sealed class RequestWork : ICopyMessage
{
    public static readonly RequestWork Instance = new();
    private RequestWork() { }
}

/// <summary>Nothing left to copy: the worker stops.</summary>
public sealed class NoMoreWork : ICopyMessage
{
    public static readonly NoMoreWork Instance = new();
    private NoMoreWork() { }
}

public sealed record CopyChunkWork(int ChunkIndex) : ICopyMessage;

/// <summary>A chunk is in place; the worker is ready for the next one.</summary>
public sealed record ChunkCopied(int ChunkIndex, long Bytes, ulong Checksum) : ICopyMessage;

public sealed record ChunkFailed(int ChunkIndex, string Reason) : ICopyMessage;

/// <summary>Progress of one device, sent to the job's progress listener.</summary>
public sealed record DeviceProgress(string Device, long BytesDone, long BytesTotal, int ChunksInFlight) : ICopyMessage;

/// <summary>Every chunk of the device is in place.</summary>
public sealed record DeviceCopied(string Device, long Bytes, double Seconds) : ICopyMessage;

/// <summary>The device stopped at a failed chunk; no chunk of it is still in flight.</summary>
public sealed record DeviceCopyFailed(string Device, string Reason) : ICopyMessage;

/// <summary>Stop dispatching, let in-flight chunks land, then report the device as failed.</summary>
public sealed class AbortCopy : ICopyMessage
{
    public static readonly AbortCopy Instance = new();
    private AbortCopy() { }
}

/// <summary>A chunk of a device is in place (its checksum, for the job's journal).</summary>
public sealed record ChunkLanded(string Device, int ChunkIndex, ulong Checksum) : ICopyMessage;
