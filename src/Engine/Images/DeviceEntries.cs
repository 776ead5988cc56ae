using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Images;

/// <summary>Conversions between a GPU's properties and the image's kfd_device_entry, with every required field set.</summary>
public static class DeviceEntries
{
    public static KfdDeviceEntry ToDeviceEntry(this GpuNode g)
    {
        var entry = new KfdDeviceEntry
        {
            NodeId = g.NodeId, GpuId = g.GpuId, CpuCoresCount = g.CpuCoresCount, SimdCount = g.SimdCount,
            MemBanksCount = g.MemBanksCount, CachesCount = g.CachesCount, IoLinksCount = (uint)g.IoLinks.Count,
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
        foreach (var link in g.IoLinks) entry.Iolinks.Add(new DevIolink { Type = link.Type, NodeToId = link.NodeToId });
        return entry;
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
