using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>A job tells its parent that it replied to its client and stops.</summary>
public sealed record JobEnded(string JobId);
