namespace Gpuckpt.Engine.Images;

/// <summary>One GPU of the source, with how many KFD BOs the image holds for it and how many bytes of contents.</summary>
public sealed record InspectedDevice(
    uint GpuId, uint NodeId, uint VendorId, uint DeviceId, uint RenderMinor, ulong HiveId, uint SimdCount, ulong VramSize,
    int KfdBos, ulong ContentBytes, string? PagesFile);
