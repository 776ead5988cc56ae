using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>A node asks another for its <see cref="NodeInfo"/>.</summary>
public sealed class NodeInfoRequest : IClusterMessage
{
    public static readonly NodeInfoRequest Instance = new();
    private NodeInfoRequest() { }
}
