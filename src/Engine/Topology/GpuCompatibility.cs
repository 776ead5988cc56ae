using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Topology;

/// <summary>
/// Whether an image GPU (as saved) can be restored onto a local GPU. Properties that shape the code, queues and
/// memory layout must be equal; capacities (VRAM, GWS, caches) and firmware versions must be at least the image's.
/// </summary>
public static class GpuCompatibility
{
    /// <summary>
    /// Capability bits that must be equal: the doorbell type and AQL double mapping change the queue state saved in
    /// the image, SVM support decides whether its SVM ranges can be restored. The other bits (watch points, RAS,
    /// debugger support, ASIC revision) do not change what a restored process finds.
    /// </summary>
    public const uint CapabilityMask = KfdSysfs.CapDoorbellTypeMask | KfdSysfs.CapAqlQueueDoubleMap | KfdSysfs.CapSvmApiSupported;

    private static readonly (string Name, Func<GpuNode, ulong> Get)[] Equal =
    [
        ("vendor_id", g => g.VendorId),
        ("device_id", g => g.DeviceId),
        ("simd_count", g => g.SimdCount),
        ("mem_banks_count", g => g.MemBanksCount),
        ("io_links_count", g => g.IoLinksCount),
        ("max_waves_per_simd", g => g.MaxWavesPerSimd),
        ("lds_size_in_kb", g => g.LdsSizeInKb),
        ("wave_front_size", g => g.WaveFrontSize),
        ("array_count", g => g.ArrayCount),
        ("simd_arrays_per_engine", g => g.SimdArraysPerEngine),
        ("cu_per_simd_array", g => g.CuPerSimdArray),
        ("simd_per_cu", g => g.SimdPerCu),
        ("max_slots_scratch_cu", g => g.MaxSlotsScratchCu),
        ("num_sdma_engines", g => g.NumSdmaEngines),
        ("num_sdma_xgmi_engines", g => g.NumSdmaXgmiEngines),
        ("num_sdma_queues_per_engine", g => g.NumSdmaQueuesPerEngine),
        ("num_cp_queues", g => g.NumCpQueues),
        ("vram_public", g => g.VramPublic),
        ("capability", g => g.Capability & CapabilityMask),
    ];

    private static readonly (string Name, Func<GpuNode, ulong> Get)[] AtLeast =
    [
        ("vram_size", g => g.VramSize),
        ("num_gws", g => g.NumGws),
        ("caches_count", g => g.CachesCount),
        ("fw_version", g => g.FwVersion),
        ("sdma_fw_version", g => g.SdmaFwVersion),
    ];

    /// <summary>Every property that keeps <paramref name="image"/> off <paramref name="local"/>; empty when it fits.</summary>
    public static IReadOnlyList<GpuMismatch> Mismatches(GpuNode image, GpuNode local)
    {
        var found = new List<GpuMismatch>();
        foreach (var (name, get) in Equal)
            if (get(image) != get(local)) found.Add(new GpuMismatch(name, get(image), get(local), AtLeast: false));
        foreach (var (name, get) in AtLeast)
            if (get(image) > get(local)) found.Add(new GpuMismatch(name, get(image), get(local), AtLeast: true));
        return found;
    }

    public static bool Fits(GpuNode image, GpuNode local) => Mismatches(image, local).Count == 0;
}
