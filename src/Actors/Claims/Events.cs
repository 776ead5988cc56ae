namespace Gpuckpt.Actors.Claims;

/// <summary>What a process's claim journals: who holds it, when it was let go, and a pause a finished job left.</summary>
public interface IClaimEvent;

public sealed record Claimed(string JobId, string What) : IClaimEvent;

public sealed record Released(string JobId) : IClaimEvent;

/// <summary>
/// Job <paramref name="JobId"/> let go of the claim with the process still paused by its PROCESS_INFO: no checkpoint may
/// pause it again (a second eviction its one UNPAUSE could not undo) until <see cref="PauseUndone"/>.
/// </summary>
public sealed record ReleasedPaused(string JobId) : IClaimEvent;

/// <summary>The pause <see cref="ReleasedPaused"/> recorded was undone (UNPAUSE) or its process ended.</summary>
public sealed record PauseUndone(string JobId) : IClaimEvent;
