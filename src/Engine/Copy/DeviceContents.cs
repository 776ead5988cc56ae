namespace Gpuckpt.Engine.Copy;

/// <summary>
/// The contents one device actor copies: the page files it fills, the BOs it reads, and the chunks that move
/// the bytes (each chunk names its file by index into <see cref="Files"/> and its BOs by index into <see cref="Bos"/>).
/// </summary>
public sealed record DeviceContents(string Device, IReadOnlyList<ContentFile> Files, IReadOnlyList<BoSource> Bos, IReadOnlyList<CopyChunk> Chunks)
{
    public long Bytes => Files.Sum(f => f.Length);

    /// <summary>How progress names the device; a restore says which image GPU goes to which local one (GPU 0x10→0x7aa0).</summary>
    public string Label { get; init; } = Device;

    /// <summary>The BOs a chunk holds, for errors: one name, or the first and last of a shared write.</summary>
    public string BosOf(CopyChunk chunk)
    {
        var first = Bos[chunk.Pieces[0].BoIndex];
        if (chunk.Pieces.Count == 1) return first.Label;
        return $"{chunk.Pieces.Count} BOs sharing one write, {first.Label} to {Bos[chunk.Pieces[^1].BoIndex].Label}";
    }

    /// <summary>Chunk <paramref name="index"/> as errors name it: its index, file, offset and length.</summary>
    public string DescribeChunk(int index)
    {
        var chunk = Chunks[index];
        return $"chunk {index} ({Files[chunk.FileIndex].FileName} bytes [{chunk.FileOffset}, {chunk.End}))";
    }
}
