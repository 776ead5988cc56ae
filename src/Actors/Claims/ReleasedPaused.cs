namespace Gpuckpt.Actors.Claims;

/// <summary>
/// Job <paramref name="JobId"/> let go of the claim with the process still paused by its PROCESS_INFO: no checkpoint may
/// pause it again (a second eviction its one UNPAUSE could not undo) until <see cref="PauseUndone"/>.
/// </summary>
public sealed record ReleasedPaused(string JobId) : IClaimEvent;
