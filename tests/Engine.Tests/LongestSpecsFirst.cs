using Gpuckpt.Engine.Tests.Cli;
using Gpuckpt.Engine.Tests.Criu;
using Gpuckpt.Tests.Support;
using Xunit;

[assembly: TestCollectionOrderer("Gpuckpt.Engine.Tests.LongestSpecsFirst", "Gpuckpt.Engine.Tests")]

namespace Gpuckpt.Engine.Tests;

/// <summary>Starts the classes that take longest first: the whole-process migrations (node processes killed and started again) and the CLI's control commands.</summary>
public sealed class LongestSpecsFirst() : LongestCollectionsFirst(
    CollectionOf(typeof(CriuMigrateSpecs)),
    CollectionOf(typeof(CriuGpuMigrateSpecs)),
    CollectionOf(typeof(ControlCommandSpecs)),
    CollectionOf(typeof(CriuClusterDemoSpecs)));
