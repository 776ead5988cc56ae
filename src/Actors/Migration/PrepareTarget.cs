using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>Be the target of a migration: answer <see cref="TargetPrepared"/>.</summary>
public sealed record PrepareTarget(string MigrationId, string From, IActorRef Coordinator) : IMigrationMessage;
