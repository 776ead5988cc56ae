namespace Gpuckpt.Actors.Claims;

/// <summary>The pause <see cref="ReleasedPaused"/> recorded was undone (UNPAUSE) or its process ended.</summary>
public sealed record PauseUndone(string JobId) : IClaimEvent;
