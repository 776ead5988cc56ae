using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Topology;

/// <summary>
/// One GPU with the properties KFD reports for it (the fields of the image's kfd_device_entry).
/// gpu_id and drm_render_minor identify it on its machine; the rest decide whether an image GPU can run on it.
/// </summary>
public sealed record GpuNode
{
    public uint NodeId { get; init; }
    public uint GpuId { get; init; }
    public uint CpuCoresCount { get; init; }
    public uint SimdCount { get; init; }
    public uint MemBanksCount { get; init; }
    public uint CachesCount { get; init; }
    public uint IoLinksCount { get; init; }
    public uint MaxWavesPerSimd { get; init; }
    public uint LdsSizeInKb { get; init; }
    public uint GdsSizeInKb { get; init; }
    public uint NumGws { get; init; }
    public uint WaveFrontSize { get; init; }
    public uint ArrayCount { get; init; }
    public uint SimdArraysPerEngine { get; init; }
    public uint CuPerSimdArray { get; init; }
    public uint SimdPerCu { get; init; }
    public uint MaxSlotsScratchCu { get; init; }
    public uint VendorId { get; init; }
    public uint DeviceId { get; init; }
    public uint Domain { get; init; }
    public uint DrmRenderMinor { get; init; }
    public ulong HiveId { get; init; }
    public uint NumSdmaEngines { get; init; }
    public uint NumSdmaXgmiEngines { get; init; }
    public uint NumSdmaQueuesPerEngine { get; init; }
    public uint NumCpQueues { get; init; }
    public uint FwVersion { get; init; }
    public uint Capability { get; init; }
    public uint SdmaFwVersion { get; init; }
    public uint VramPublic { get; init; }
    public ulong VramSize { get; init; }
    public IReadOnlyList<IoLink> IoLinks { get; init; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(
            TopologyJsonContext.Default, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
    };
}
