namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// One chunk of one page file is written; its checksum lets a restarted job adopt it instead of copying it again.
/// <paramref name="FirstBo"/> and <paramref name="LastBo"/> (KFD bucket indexes or GEM handles) name the BOs whose bytes
/// it holds: one, or the first and last of small BOs that shared the write.
/// </summary>
public sealed record ChunkSaved(string Device, int File, long Offset, int Length, ulong Checksum, uint FirstBo = 0, uint LastBo = 0) : ICheckpointEvent, Persistence.IProgressEvent
{
    public string Key => $"{Device}|{File}|{Offset}";

    public static string KeyOf(string device, Engine.Copy.CopyChunk chunk) => $"{device}|{chunk.FileIndex}|{chunk.FileOffset}";
}
