namespace Gpuckpt.Actors.Checkpoint;

/// <summary>PROCESS_INFO returned: the process is paused (one eviction, which exactly one UNPAUSE undoes).</summary>
public sealed record ProcessPaused(uint NumDevices, uint NumBos, uint NumObjects, ulong PrivDataSize) : ICheckpointEvent;
