namespace Gpuckpt.Actors.Claims;

/// <summary>What a process's claim journals: who holds it, when it was let go, and a pause a finished job left.</summary>
public interface IClaimEvent;
