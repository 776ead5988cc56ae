using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>One job a node holds: a running checkpoint or restore, a migration, or a process it received.</summary>
public sealed record NodeJob(string Id, string Kind, string State, string Detail);
