using Gpuckpt.Actors.Tests.Copy;
using Gpuckpt.Actors.Tests.Recovery;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("Gpuckpt.Actors.Tests.Cluster.NodesCollectionFirst", "Gpuckpt.Actors.Tests")]

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Starts the longest collections first: <see cref="NodesCollection"/>, whose specs run one after another and take most of
/// this assembly's time, then the classes that repeat a node-sized run many times. xunit runs as many collections at once
/// as there are cores; started first, the long ones hold their slots from the beginning while the short collections fill
/// in beside them, instead of the long ones starting last and running alone at the end. The rest keep a stable order.
/// </summary>
public sealed class NodesCollectionFirst : ITestCollectionOrderer
{
    private static readonly string[] Longest =
    [
        nameof(NodesCollection),
        $"Test collection for {typeof(StoppedJobSpecs).FullName}",
        $"Test collection for {typeof(PostgresCrashRecoverySpecs).FullName}",
    ];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections
            .OrderBy(c => Array.IndexOf(Longest, c.DisplayName) is var i and >= 0 ? i : Longest.Length)
            .ThenBy(c => c.DisplayName, StringComparer.Ordinal);
}
