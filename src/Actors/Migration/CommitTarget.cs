using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The commit is recorded: RESUME the held process; answered with <see cref="TargetResumed"/>.</summary>
public sealed record CommitTarget(string MigrationId) : IMigrationMessage;
