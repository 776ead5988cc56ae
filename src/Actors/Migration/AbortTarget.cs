using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The migration rolls back: discard everything of it on the target; answered with <see cref="TargetAborted"/>.</summary>
public sealed record AbortTarget(string MigrationId, string Reason) : IMigrationMessage;
