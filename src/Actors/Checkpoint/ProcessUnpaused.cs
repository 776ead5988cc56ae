namespace Gpuckpt.Actors.Checkpoint;

public sealed record ProcessUnpaused : ICheckpointEvent;
