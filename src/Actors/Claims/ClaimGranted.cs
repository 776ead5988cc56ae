namespace Gpuckpt.Actors.Claims;

/// <summary>
/// Job <paramref name="JobId"/> now holds the process (or already did); <paramref name="PausedBy"/> names the finished job
/// that left it paused (an unpause's claim only).
/// </summary>
public sealed record ClaimGranted(string JobId, string Key, string? PausedBy = null) : IClaimMessage;
