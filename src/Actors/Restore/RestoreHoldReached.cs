namespace Gpuckpt.Actors.Restore;

/// <summary>A held restore reached its hold point: everything but RESUME is in place.</summary>
public sealed record RestoreHoldReached(uint Pid, RestoreSummary Summary) : IRestoreEvent;
