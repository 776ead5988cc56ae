namespace Gpuckpt.Actors.Claims;

public sealed record Claimed(string JobId, string What) : IClaimEvent;
