using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The migration ended before its commit: <paramref name="Node"/> and <paramref name="Step"/> say where it failed; the
/// source process runs again (<paramref name="SourceResumed"/>) or was never paused. Journalled (inside
/// <see cref="MigrationFinished"/>): its shape is what journals hold.
/// </summary>
public sealed record MigrationFailed(string MigrationId, uint Pid, string Node, string Step, string Reason, bool SourceResumed) : IMigrationMessage;

// ---- coordinator → target ------------------------------------------------------------------------------------------
