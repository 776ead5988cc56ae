using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>The CLI asks any node for <see cref="ClusterStatus"/>: every member with its own report.</summary>
public sealed class ClusterStatusRequest : IClusterMessage
{
    public static readonly ClusterStatusRequest Instance = new();
    private ClusterStatusRequest() { }
}
