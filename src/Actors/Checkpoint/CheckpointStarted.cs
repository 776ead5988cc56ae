namespace Gpuckpt.Actors.Checkpoint;

public sealed record CheckpointStarted(string JobId, CheckpointRequest Request, string Driver, int ChunkSize, string ImageId) : ICheckpointEvent;
