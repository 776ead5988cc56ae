using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>One cluster member as the contacted node sees it; <paramref name="Info"/> is null when it did not answer.</summary>
public sealed record MemberInfo(string Name, string Address, string Status, bool Reachable, IReadOnlyList<string> Roles, NodeInfo? Info);
