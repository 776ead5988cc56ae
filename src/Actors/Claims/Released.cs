namespace Gpuckpt.Actors.Claims;

public sealed record Released(string JobId) : IClaimEvent;
