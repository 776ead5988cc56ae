namespace Gpuckpt.Actors.Claims;

/// <summary>The process is held by <paramref name="Holder"/>, doing <paramref name="What"/>: job <paramref name="JobId"/> may not start.</summary>
public sealed record ClaimRefused(string JobId, string Key, string Holder, string What) : IClaimMessage;
