using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// The SQLite-journal migrations, one cluster at a time, beside <see cref="NodesCollection"/>'s: at most two clusters
/// run at once, and a node spec spends most of its time waiting for processes to start, nodes to agree and timeouts.
/// </summary>
[CollectionDefinition(nameof(SqliteMigrationCollection))]
public sealed class SqliteMigrationCollection;
