namespace Gpuckpt.Engine.Simulation;

/// <summary>How many times each KFD CRIU op reached a process (failed and refused calls included).</summary>
public sealed record ProcessCounters(int ProcessInfo, int Checkpoint, int Unpause, int Restore, int Resume);
