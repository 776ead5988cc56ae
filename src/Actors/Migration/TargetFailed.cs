using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The target cannot go on: <paramref name="Step"/> failed there.</summary>
public sealed record TargetFailed(string MigrationId, string Node, string Step, string Reason) : IMigrationMessage;
