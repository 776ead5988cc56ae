using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Job <paramref name="JobId"/> runs as <paramref name="Job"/>: its waiter watches it.</summary>
public sealed record JobFollowed(string JobId, IActorRef Job);
