namespace Gpuckpt.Actors.Checkpoint;

/// <summary>Recorded before UNPAUSE is issued, so a restart knows it may have been issued already.</summary>
public sealed record UnpauseIntended : ICheckpointEvent;
