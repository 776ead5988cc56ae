using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Where one BO's contents are read from: its render node and mmap offset.</summary>
public sealed record BoSource(uint Minor, ulong MmapOffset, ulong Size, string Label);

/// <summary>A page file of the image and its length in bytes.</summary>
public sealed record ContentFile(string FileName, long Length);

/// <summary>
/// The contents one device actor copies: the page files it fills, the BOs it reads, and the chunks that move
/// the bytes (each chunk names its file by index into <see cref="Files"/> and its BOs by index into <see cref="Bos"/>).
/// </summary>
public sealed record DeviceContents(string Device, IReadOnlyList<ContentFile> Files, IReadOnlyList<BoSource> Bos, IReadOnlyList<CopyChunk> Chunks)
{
    public long Bytes => Files.Sum(f => f.Length);
}

/// <summary>Everything a checkpoint learned from the driver before copying contents: the image's metadata and copy plan.</summary>
public sealed record CapturedProcess(
    uint Pid,
    IReadOnlyList<GpuNode> Gpus,
    CriuKfd Kfd,
    IReadOnlyList<CriuRenderNode> RenderNodes,
    IReadOnlyList<ResolvedImport> Links,
    IReadOnlyList<DeviceContents> Devices)
{
    public long ContentBytes => Devices.Sum(d => d.Bytes);
    public int BoCount => Kfd.BoEntries.Count + RenderNodes.Sum(n => n.BoEntries.Count);
}
