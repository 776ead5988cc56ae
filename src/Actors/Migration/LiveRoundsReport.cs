namespace Gpuckpt.Actors.Migration;

/// <summary>
/// What a live migration's rounds copied, told to its client just before <see cref="MigrationCompleted"/>: the running
/// rounds, then the last, paused one (its seconds are the pause).
/// </summary>
public sealed record LiveRoundsReport(string MigrationId, IReadOnlyList<LiveRound> Rounds) : IMigrationMessage;
