namespace Gpuckpt.Engine.Topology;

/// <summary>
/// A CPU node of the KFD topology (gpu_id 0): the plugin's image lists it among the device entries, with its core
/// count and its PCIe/XGMI links, so that a restore sees the whole topology the process ran in.
/// </summary>
public sealed record CpuNode(uint NodeId, uint CpuCoresCount, IReadOnlyList<IoLink> IoLinks);
