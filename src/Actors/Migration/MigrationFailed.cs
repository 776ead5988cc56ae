using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The migration ended before its commit: <paramref name="Node"/> and <paramref name="Step"/> say where it failed; the
/// source process runs again (<paramref name="SourceResumed"/>) or was never paused; <paramref name="Outcome"/>, when
/// given, says instead where the process is and what is left.
/// </summary>
public sealed record MigrationFailed(string MigrationId, uint Pid, string Node, string Step, string Reason, bool SourceResumed, string? Outcome = null) : IMigrationMessage;

// ---- coordinator → target ------------------------------------------------------------------------------------------
