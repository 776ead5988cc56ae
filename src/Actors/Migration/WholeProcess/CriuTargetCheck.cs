using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// Could this node restore process <paramref name="Source"/> from node <paramref name="From"/> through CRIU? Answered
/// before anything is dumped: <see cref="CriuTargetReady"/> (CRIU there, the pid free or the source's own process) or
/// <see cref="TargetFailed"/>.
/// </summary>
public sealed record CriuTargetCheck(string MigrationId, string From, ProcessIdentity Source) : IMigrationMessage;
