namespace Gpuckpt.Actors.Checkpoint;

/// <summary>Recorded before PROCESS_INFO is issued: from here a failed job must make sure the process runs again.</summary>
public sealed record PauseIntended : ICheckpointEvent;
