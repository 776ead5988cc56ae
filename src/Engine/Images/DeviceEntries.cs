using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Images;

/// <summary>Conversions between a node's properties and the image's kfd_device_entry, with every required field set.</summary>
public static class DeviceEntries
{
    /// <summary>
    /// A GPU's entry as the plugin writes it: no cpu_cores_count (an entry with cores is a CPU to the plugin), the
    /// io_links_count sysfs reports, and the PCIe and XGMI links to nodes in <paramref name="imageNodes"/> (all when null).
    /// </summary>
    public static KfdDeviceEntry ToDeviceEntry(this GpuNode g, IReadOnlySet<uint>? imageNodes = null)
    {
        var entry = new KfdDeviceEntry
        {
            NodeId = g.NodeId, GpuId = g.GpuId, CpuCoresCount = 0, SimdCount = g.SimdCount,
            MemBanksCount = g.MemBanksCount, CachesCount = g.CachesCount, IoLinksCount = g.IoLinksCount,
            MaxWavesPerSimd = g.MaxWavesPerSimd, LdsSizeInKb = g.LdsSizeInKb,
            GdsSizeInKb = g.GdsSizeInKb,
            NumGws = g.NumGws, WaveFrontSize = g.WaveFrontSize, ArrayCount = g.ArrayCount,
            SimdArraysPerEngine = g.SimdArraysPerEngine, CuPerSimdArray = g.CuPerSimdArray, SimdPerCu = g.SimdPerCu,
            MaxSlotsScratchCu = g.MaxSlotsScratchCu, VendorId = g.VendorId, DeviceId = g.DeviceId, Domain = g.Domain,
            DrmRenderMinor = g.DrmRenderMinor, HiveId = g.HiveId, NumSdmaEngines = g.NumSdmaEngines,
            NumSdmaXgmiEngines = g.NumSdmaXgmiEngines, NumSdmaQueuesPerEngine = g.NumSdmaQueuesPerEngine,
            NumCpQueues = g.NumCpQueues, FwVersion = g.FwVersion, Capability = g.Capability,
            SdmaFwVersion = g.SdmaFwVersion, VramPublic = g.VramPublic, VramSize = g.VramSize,
        };
        AddLinks(entry, g.IoLinks, imageNodes);
        return entry;
    }

    /// <summary>A CPU node's entry as the plugin writes it: node id, core count and links; every GPU field 0.</summary>
    public static KfdDeviceEntry ToDeviceEntry(this CpuNode c, IReadOnlySet<uint>? imageNodes = null)
    {
        var entry = new KfdDeviceEntry
        {
            NodeId = c.NodeId, GpuId = 0, CpuCoresCount = c.CpuCoresCount, SimdCount = 0, MemBanksCount = 0, CachesCount = 0,
            IoLinksCount = 0, MaxWavesPerSimd = 0, LdsSizeInKb = 0, GdsSizeInKb = 0, NumGws = 0, WaveFrontSize = 0,
            ArrayCount = 0, SimdArraysPerEngine = 0, CuPerSimdArray = 0, SimdPerCu = 0, MaxSlotsScratchCu = 0, VendorId = 0,
            DeviceId = 0, Domain = 0, DrmRenderMinor = 0, HiveId = 0, NumSdmaEngines = 0, NumSdmaXgmiEngines = 0,
            NumSdmaQueuesPerEngine = 0, NumCpQueues = 0, FwVersion = 0, Capability = 0, SdmaFwVersion = 0, VramPublic = 0,
            VramSize = 0,
        };
        AddLinks(entry, c.IoLinks, imageNodes);
        return entry;
    }

    /// <summary>An entry of the plugin's is a CPU when it has no gpu id and some cores.</summary>
    public static bool IsCpu(this KfdDeviceEntry e) => e.GpuId == 0 && e.CpuCoresCount > 0;

    public static CpuNode ToCpuNode(this KfdDeviceEntry e) =>
        new(e.NodeId, e.CpuCoresCount, [.. e.Iolinks.Select(l => new IoLink(l.Type, l.NodeToId))]);

    /// <summary>The plugin keeps only PCIe and XGMI links, and only those to nodes it saves.</summary>
    private static void AddLinks(KfdDeviceEntry entry, IEnumerable<IoLink> links, IReadOnlySet<uint>? imageNodes)
    {
        foreach (var link in links.Where(l => l.Type is IoLink.Pcie or IoLink.Xgmi && (imageNodes is null || imageNodes.Contains(l.NodeToId))))
            entry.Iolinks.Add(new DevIolink { Type = link.Type, NodeToId = link.NodeToId });
    }

    public static GpuNode ToGpuNode(this KfdDeviceEntry e) => new()
    {
        NodeId = e.NodeId, GpuId = e.GpuId, CpuCoresCount = e.CpuCoresCount, SimdCount = e.SimdCount,
        MemBanksCount = e.MemBanksCount, CachesCount = e.CachesCount, IoLinksCount = e.IoLinksCount,
        MaxWavesPerSimd = e.MaxWavesPerSimd, LdsSizeInKb = e.LdsSizeInKb, GdsSizeInKb = e.GdsSizeInKb, NumGws = e.NumGws,
        WaveFrontSize = e.WaveFrontSize, ArrayCount = e.ArrayCount, SimdArraysPerEngine = e.SimdArraysPerEngine,
        CuPerSimdArray = e.CuPerSimdArray, SimdPerCu = e.SimdPerCu, MaxSlotsScratchCu = e.MaxSlotsScratchCu,
        VendorId = e.VendorId, DeviceId = e.DeviceId, Domain = e.Domain, DrmRenderMinor = e.DrmRenderMinor,
        HiveId = e.HiveId, NumSdmaEngines = e.NumSdmaEngines, NumSdmaXgmiEngines = e.NumSdmaXgmiEngines,
        NumSdmaQueuesPerEngine = e.NumSdmaQueuesPerEngine, NumCpQueues = e.NumCpQueues, FwVersion = e.FwVersion,
        Capability = e.Capability, SdmaFwVersion = e.SdmaFwVersion, VramPublic = e.VramPublic, VramSize = e.VramSize,
        IoLinks = [.. e.Iolinks.Select(l => new IoLink(l.Type, l.NodeToId))],
    };
}
