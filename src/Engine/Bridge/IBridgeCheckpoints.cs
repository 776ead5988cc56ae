namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// What a bridge session asks of the engine's jobs: checkpoint one task's GPU state into an image directory, leaving
/// the task paused (the session unpauses it once CRIU is done with the task).
/// </summary>
public interface IBridgeCheckpoints
{
    /// <summary>Runs the journalled checkpoint job to its end; a failed job has already unpaused the task.</summary>
    Task<BridgeCheckpointOutcome> CheckpointAsync(uint pid, string imagesDir, CancellationToken cancel);
}

