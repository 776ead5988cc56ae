using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>What the CLI and the nodes ask each other about the cluster.</summary>
public interface IClusterMessage;

/// <summary>The CLI asks any node for <see cref="ClusterStatus"/>: every member with its own report.</summary>
public sealed class ClusterStatusRequest : IClusterMessage
{
    public static readonly ClusterStatusRequest Instance = new();
    private ClusterStatusRequest() { }
}

/// <summary>A node asks another for its <see cref="NodeInfo"/>.</summary>
public sealed class NodeInfoRequest : IClusterMessage
{
    public static readonly NodeInfoRequest Instance = new();
    private NodeInfoRequest() { }
}

/// <summary>One job a node holds: a running checkpoint or restore, a migration, or a process it received.</summary>
public sealed record NodeJob(string Id, string Kind, string State, string Detail);

/// <summary>A node's own report: its driver, its GPUs and its jobs; <paramref name="Leaving"/>: it takes no new migrations.</summary>
public sealed record NodeInfo(string Name, string Address, string Driver, IReadOnlyList<GpuNode> Gpus, IReadOnlyList<NodeJob> Jobs, bool Leaving)
    : IClusterMessage;

/// <summary>One cluster member as the contacted node sees it; <paramref name="Info"/> is null when it did not answer.</summary>
public sealed record MemberInfo(string Name, string Address, string Status, bool Reachable, IReadOnlyList<string> Roles, NodeInfo? Info);

public sealed record ClusterStatus(string Contacted, string? Leader, IReadOnlyList<MemberInfo> Members) : IClusterMessage;
