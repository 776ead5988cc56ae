namespace Gpuckpt.Engine.Copy;

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
