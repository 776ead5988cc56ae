using Akka.Actor;

namespace Gpuckpt.Actors;

public sealed record JobPong(long Seq);
