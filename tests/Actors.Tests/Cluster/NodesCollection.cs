using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Specs that start clusters of nodes run one at a time in this collection, beside <see cref="SqliteMigrationCollection"/>'s:
/// two clusters of three nodes and their simulators at once is plenty for two cores.
/// </summary>
[CollectionDefinition(nameof(NodesCollection))]
public sealed class NodesCollection;
