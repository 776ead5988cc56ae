namespace Gpuckpt.Engine.Copy;

/// <summary>
/// Where one BO's contents are read from (its render node and mmap offset), its id in the image (KFD bucket index or
/// GEM handle) and its name for errors and progress (<see cref="BoNames"/>); for the copy engine, a dmabuf fd of the BO
/// that the engine holds until the copy is done, and the key the manifest lists it under.
/// </summary>
public sealed record BoSource(uint Minor, ulong MmapOffset, ulong Size, string Label, uint Id = 0)
{
    public BoCopyPath Path { get; init; } = BoCopyPath.Cpu;
    public int Dmabuf { get; init; } = -1;
    public string ImageKey { get; init; } = "";

    /// <summary>The inode of a dmabuf of the BO's memory (0: not known), by which a driver's dirty bits name it.</summary>
    public ulong Inode { get; init; }

    /// <summary>What the driver maps it from.</summary>
    public Devices.BoRange Range => new(Minor, MmapOffset, Size);
}
