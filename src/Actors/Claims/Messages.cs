namespace Gpuckpt.Actors.Claims;

/// <summary>Answers of a <see cref="ProcessClaim"/> to the jobs actor.</summary>
public interface IClaimMessage;

/// <summary>
/// Job <paramref name="JobId"/> now holds the process (or already did); <paramref name="PausedBy"/> names the finished job
/// that left it paused (an unpause's claim only).
/// </summary>
public sealed record ClaimGranted(string JobId, string Key, string? PausedBy = null) : IClaimMessage;

/// <summary>The process is held by <paramref name="Holder"/>, doing <paramref name="What"/>: job <paramref name="JobId"/> may not start.</summary>
public sealed record ClaimRefused(string JobId, string Key, string Holder, string What) : IClaimMessage;

/// <summary>The claim could not be read or written (the journal failed, <paramref name="Reason"/> says how): job <paramref name="JobId"/> may not start.</summary>
public sealed record ClaimFailed(string JobId, string Key, string Reason) : IClaimMessage;

/// <summary>
/// The process was left paused by the finished checkpoint job <paramref name="PausedBy"/>: job <paramref name="JobId"/>
/// may not pause it again until it is unpaused.
/// </summary>
public sealed record ClaimRefusedPaused(string JobId, string Key, string PausedBy) : IClaimMessage;

/// <summary>The claim of <paramref name="JobId"/> is let go (or was not held): the job may answer its client.</summary>
public sealed record ClaimReleased(string JobId) : IClaimMessage;

/// <summary>A job tells the jobs actor which process it holds, so that its claim is released when it ends.</summary>
public sealed record JobHolds(string JobId, string Key) : IClaimMessage;
