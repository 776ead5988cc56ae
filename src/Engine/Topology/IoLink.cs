using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Topology;

/// <summary>An io link of a node (kfd_device_entry.iolinks): its HSA io link type and the node it leads to.</summary>
public sealed record IoLink(uint Type, uint NodeToId)
{
    /// <summary>HSA_IOLINKTYPE_PCIEXPRESS and HSA_IOLINK_TYPE_XGMI: the only links the image keeps.</summary>
    public const uint Pcie = 2, Xgmi = 11;
}
