using Gpuckpt.Actors.Tests.Copy;
using Gpuckpt.Actors.Tests.Recovery;
using Gpuckpt.Tests.Support;
using Xunit;

[assembly: TestCollectionOrderer("Gpuckpt.Actors.Tests.Cluster.NodesCollectionFirst", "Gpuckpt.Actors.Tests")]

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Starts the longest collections first: <see cref="NodesCollection"/> and <see cref="SqliteMigrationSpecs"/>, whose
/// specs run one after another and take most of this assembly's time, then the classes that repeat a node-sized run many
/// times.
/// </summary>
public sealed class NodesCollectionFirst() : LongestCollectionsFirst(
    nameof(NodesCollection),
    CollectionOf(typeof(SqliteMigrationSpecs)),
    CollectionOf(typeof(StoppedJobSpecs)),
    CollectionOf(typeof(PostgresCrashRecoverySpecs)));
