namespace Gpuckpt.Engine.Uapi;

public static class KfdAllocFlagsExtensions
{
    /// <summary>Only VRAM and GTT BOs have contents to save; userptr, doorbell and MMIO-remap do not.</summary>
    public static bool HasContents(this KfdAllocFlags flags) =>
        (flags & (KfdAllocFlags.Vram | KfdAllocFlags.Gtt)) != 0
        && (flags & (KfdAllocFlags.Userptr | KfdAllocFlags.Doorbell | KfdAllocFlags.MmioRemap)) == 0;
}
