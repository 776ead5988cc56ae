using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

public sealed class MigrationsDrained : IMigrationMessage
{
    public static readonly MigrationsDrained Instance = new();
    private MigrationsDrained() { }
}

// ---- coordinator ↔ its transfer sender (local) ---------------------------------------------------------------------
