using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>Frame <paramref name="Seq"/> failed its check on arrival: send it again.</summary>
public sealed record FrameRejected(long Seq, string Reason) : IMigrationMessage;
