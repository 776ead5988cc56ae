namespace Gpuckpt.Actors.Checkpoint;

/// <summary>What a checkpoint job journals: enough to continue it after the engine is killed at any point.</summary>
public interface ICheckpointEvent;
