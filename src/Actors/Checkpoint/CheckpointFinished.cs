namespace Gpuckpt.Actors.Checkpoint;

public sealed record CheckpointFinished(ICheckpointMessage Outcome) : ICheckpointEvent;
