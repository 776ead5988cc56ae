using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Specs that start clusters run one at a time here, and <see cref="SqliteMigrationSpecs"/> (a third of the cluster
/// specs' time) in a lane of its own beside them: at most two clusters of three nodes at once on two cores.
/// </summary>
[CollectionDefinition(nameof(NodesCollection))]
public sealed class NodesCollection;
