namespace Gpuckpt.Actors.Claims;

/// <summary>A job tells the jobs actor which process it holds, so that its claim is released when it ends.</summary>
public sealed record JobHolds(string JobId, string Key) : IClaimMessage;
