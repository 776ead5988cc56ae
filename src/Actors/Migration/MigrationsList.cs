using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The node's migrations and arrived processes; <paramref name="Leaving"/>: the node takes no new migrations.</summary>
public sealed record MigrationsList(IReadOnlyList<Cluster.NodeJob> Jobs, bool Leaving) : IMigrationMessage;
