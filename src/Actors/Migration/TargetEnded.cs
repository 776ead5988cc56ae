namespace Gpuckpt.Actors.Migration;

/// <summary>The target side is over: the process resumed as <paramref name="Pid"/>, or (Pid 0) everything was discarded.</summary>
public sealed record TargetEnded(uint Pid, string Outcome) : ITargetEvent;
