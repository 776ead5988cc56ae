namespace Gpuckpt.Actors.Claims;

/// <summary>
/// The process was left paused by the finished checkpoint job <paramref name="PausedBy"/>: job <paramref name="JobId"/>
/// may not pause it again until it is unpaused.
/// </summary>
public sealed record ClaimRefusedPaused(string JobId, string Key, string PausedBy) : IClaimMessage;
