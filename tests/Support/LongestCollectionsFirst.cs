using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Tests.Support;

/// <summary>
/// Starts the named collections first, in the order given, then the rest in a stable order. xunit runs as many
/// collections at once as xunit.runner.json's maxParallelThreads: started first, the long ones hold their slots from the
/// beginning while the short collections fill in beside them, instead of starting last and running alone at the end.
/// </summary>
/// <param name="longest">collection display names ("Test collection for CLASS" for a class without a collection of its own)</param>
public abstract class LongestCollectionsFirst(params string[] longest) : ITestCollectionOrderer
{
    /// <summary>The display name xunit gives the collection of a class that names none.</summary>
    protected static string CollectionOf(Type specs) => $"Test collection for {specs.FullName}";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections
            .OrderBy(c => Array.IndexOf(longest, c.DisplayName) is var i and >= 0 ? i : longest.Length)
            .ThenBy(c => c.DisplayName, StringComparer.Ordinal);
}
