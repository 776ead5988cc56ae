using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

public sealed record ClusterStatus(string Contacted, string? Leader, IReadOnlyList<MemberInfo> Members) : IClusterMessage;
