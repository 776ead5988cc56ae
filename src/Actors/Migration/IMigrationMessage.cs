using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The migration protocol: the CLI and the coordinator, the coordinator and the target node.</summary>
public interface IMigrationMessage;
