namespace Gpuckpt.Actors.Claims;

/// <summary>The claim of <paramref name="JobId"/> is let go (or was not held): the job may answer its client.</summary>
public sealed record ClaimReleased(string JobId) : IClaimMessage;
