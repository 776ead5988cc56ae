using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>Asks a node's migrations actor for the migrations it runs, as <see cref="Cluster.NodeJob"/>s.</summary>
public sealed class ListMigrations : IMigrationMessage
{
    public static readonly ListMigrations Instance = new();
    private ListMigrations() { }
}
