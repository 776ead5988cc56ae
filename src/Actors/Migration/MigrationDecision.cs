using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>Committed: the target goes forward. Otherwise it discards what it holds.</summary>
public sealed record MigrationDecision(string MigrationId, bool Committed) : IMigrationMessage;
