using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The node is leaving: refuse new migrations, answer <see cref="MigrationsDrained"/> once every running one has ended.</summary>
public sealed class DrainMigrations : IMigrationMessage
{
    public static readonly DrainMigrations Instance = new();
    private DrainMigrations() { }
}
