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
