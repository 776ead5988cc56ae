namespace Gpuckpt.Engine.Copy;

/// <summary>
/// Where one BO's contents are read from (its render node and mmap offset), its id in the image (KFD bucket index or
/// GEM handle) and its name for errors and progress (<see cref="BoNames"/>).
/// </summary>
public sealed record BoSource(uint Minor, ulong MmapOffset, ulong Size, string Label, uint Id = 0)
{
    /// <summary>What the driver maps it from.</summary>
    public Devices.BoRange Range => new(Minor, MmapOffset, Size);
}

/// <summary>A page file of the image and its length in bytes.</summary>
public sealed record ContentFile(string FileName, long Length);

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

/// <summary>Builds the copy plan of one GPU's page file or of a render node's per-BO files.</summary>
public static class ContentPlanner
{
    /// <summary>The BOs back to back in one page file, in the given (bucket) order.</summary>
    public static DeviceContents OnePageFile(string device, string fileName, IReadOnlyList<BoSource> bos, int chunkSize)
    {
        var layout = CopyPlanner.Layout(bos.Select((b, i) => (i, b.Size)));
        var length = layout.Count == 0 ? 0 : layout[^1].FileOffset + (long)layout[^1].Size;
        return new DeviceContents(device, [new ContentFile(fileName, length)], bos, CopyPlanner.Plan(layout, chunkSize));
    }

    /// <summary>Each BO in a file of its own.</summary>
    public static DeviceContents FilePerBo(string device, IReadOnlyList<(BoSource Bo, string FileName)> bos, int chunkSize)
    {
        var chunks = new List<CopyChunk>();
        for (var i = 0; i < bos.Count; i++)
            chunks.AddRange(CopyPlanner.Plan([new BoExtent(i, bos[i].Bo.Size, 0)], chunkSize, i));
        return new DeviceContents(device, [.. bos.Select(b => new ContentFile(b.FileName, (long)b.Bo.Size))], [.. bos.Select(b => b.Bo)], chunks);
    }
}
