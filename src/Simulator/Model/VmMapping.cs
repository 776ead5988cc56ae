namespace Gpuckpt.Simulator.Model;

/// <summary>One GPU VM mapping of a render BO: start and last in 4 KiB GPU pages, offset in bytes into the BO.</summary>
internal readonly record struct VmMapping(ulong Start, ulong Last, ulong Offset, ulong Flags)
{
    public bool Overlaps(VmMapping other) => Start <= other.Last && other.Start <= Last;
}
