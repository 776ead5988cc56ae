namespace Gpuckpt.Actors.Migration;

/// <summary>One round of a live migration: the bytes it copied and how long it took (the last one is the paused round).</summary>
public sealed record LiveRound(long Bytes, double Seconds);
