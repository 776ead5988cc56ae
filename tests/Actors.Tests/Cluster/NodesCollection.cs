using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>Specs that start clusters of node processes run one at a time: three nodes and their simulators at once is plenty for two cores.</summary>
[CollectionDefinition(nameof(NodesCollection))]
public sealed class NodesCollection;
