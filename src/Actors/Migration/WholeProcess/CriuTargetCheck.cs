using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Could this node restore process <paramref name="Source"/> from node <paramref name="From"/> through CRIU? Answered
/// before anything is dumped: <see cref="CriuTargetReady"/> (CRIU there, the pid free or the source's own process) or
/// <see cref="TargetFailed"/>. <paramref name="UnderKernel"/>: the process runs under the source's emulated kernel, so
/// only a node that hosts one restores it.
/// </summary>
public sealed record CriuTargetCheck(string MigrationId, string From, ProcessIdentity Source, bool UnderKernel = false) : IMigrationMessage;
