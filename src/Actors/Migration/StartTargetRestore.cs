using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>Restore the copy up to, not including, RESUME; answered with <see cref="TargetHeld"/>.</summary>
public sealed record StartTargetRestore(string MigrationId) : IMigrationMessage;
