namespace Gpuckpt.Actors.Restore;

/// <summary>One chunk of contents is in the restored process's memory.</summary>
public sealed record ContentChunkWritten(string Device, int File, long Offset) : IRestoreEvent, Persistence.IProgressEvent
{
    public string Key => $"{Device}|{File}|{Offset}";

    public static string KeyOf(string device, Engine.Copy.CopyChunk chunk) => $"{device}|{chunk.FileIndex}|{chunk.FileOffset}";
}
