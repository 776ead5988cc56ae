using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The target wrote frame <paramref name="Seq"/> (its checksum held).</summary>
public sealed record FrameAck(long Seq) : IMigrationMessage;
