namespace Gpuckpt.Engine.Devices;

/// <summary>Where a BO is mapped from: its render node and the mmap offset and size of its buffer there.</summary>
public readonly record struct BoRange(uint RenderMinor, ulong MmapOffset, ulong Size);
