namespace Gpuckpt.Actors.Claims;

/// <summary>What a process's claim journals: who holds it, and when it was let go.</summary>
public interface IClaimEvent;

public sealed record Claimed(string JobId, string What) : IClaimEvent;

public sealed record Released(string JobId) : IClaimEvent;
