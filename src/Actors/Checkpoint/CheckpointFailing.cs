namespace Gpuckpt.Actors.Checkpoint;

/// <summary>The job cannot complete; from here it only marks the image failed and unpauses.</summary>
public sealed record CheckpointFailing(string Reason) : ICheckpointEvent;
