using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The answer to a check frame: the restarted target does not hold frame <paramref name="Seq"/> any more; send its bytes.</summary>
public sealed record FrameMissing(long Seq) : IMigrationMessage;
