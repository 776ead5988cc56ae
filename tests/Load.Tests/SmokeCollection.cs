using Xunit;

namespace Gpuckpt.Load.Tests;

/// <summary>The specs that read the smoke run's reports share one run.</summary>
[CollectionDefinition(Name)]
public sealed class SmokeCollection : ICollectionFixture<SmokeRun>
{
    public const string Name = "load smoke run";
}
