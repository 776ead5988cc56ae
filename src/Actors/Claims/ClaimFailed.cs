namespace Gpuckpt.Actors.Claims;

/// <summary>The claim could not be read or written (the journal failed, <paramref name="Reason"/> says how): job <paramref name="JobId"/> may not start.</summary>
public sealed record ClaimFailed(string JobId, string Key, string Reason) : IClaimMessage;
