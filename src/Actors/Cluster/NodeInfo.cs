using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>A node's own report: its driver, its GPUs and its jobs; <paramref name="Leaving"/>: it takes no new migrations.</summary>
public sealed record NodeInfo(string Name, string Address, string Driver, IReadOnlyList<GpuNode> Gpus, IReadOnlyList<NodeJob> Jobs, bool Leaving)
    : IClusterMessage;
