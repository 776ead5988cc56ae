namespace Gpuckpt.Actors.Checkpoint;

/// <summary>The job is a live checkpoint (<see cref="LiveCheckpointRequest"/>): journalled with its start, so that a restart knows.</summary>
public sealed record LiveCopyStarted : ICheckpointEvent;
