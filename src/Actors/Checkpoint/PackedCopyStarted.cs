namespace Gpuckpt.Actors.Checkpoint;

/// <summary>The job packs its chunks (<see cref="PackedCheckpointRequest"/>): journalled with its start, so that a resumed job packs too.</summary>
public sealed record PackedCopyStarted : ICheckpointEvent;
