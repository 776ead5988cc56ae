namespace Gpuckpt.Actors.Checkpoint;

/// <param name="ReferencedBytes">Content bytes an incremental image references in its parent instead of holding them.</param>
public sealed record ImageCommitted(long Bytes, int Bos, int Devices, long ReferencedBytes = 0) : ICheckpointEvent;
