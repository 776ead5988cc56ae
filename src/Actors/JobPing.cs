using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Are you there? Every job and the jobs actor answer <see cref="JobPong"/>, between any two of their steps.</summary>
public sealed record JobPing(long Seq);
