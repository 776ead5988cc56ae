using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Bridge;

namespace Gpuckpt.Actors.Bridge;

/// <summary>
/// A bridge session's GPU checkpoints, run as the engine's journalled checkpoint jobs (process supervisor, device and
/// BO actors) on the <see cref="BridgeDriver"/>. The job leaves the task paused; the session unpauses it when CRIU is done.
/// </summary>
public sealed class BridgeCheckpoints(EngineHost engine, TimeSpan? timeout) : IBridgeCheckpoints
{
    public async Task<BridgeCheckpointOutcome> CheckpointAsync(uint pid, string imagesDir, CancellationToken cancel)
    {
        var reply = await engine.CheckpointAsync(new CheckpointRequest(pid, imagesDir, LeaveRunning: false), timeout).ConfigureAwait(false);
        return reply switch
        {
            CheckpointCompleted { Summary: var s } => new BridgeCheckpointOutcome(true,
                $"{s.Bytes} bytes, {s.Bos} BOs, {s.Devices} devices in {s.Seconds:F2} s (job {s.JobId}, image {s.ImagesDir})"),
            CheckpointFailed f => new BridgeCheckpointOutcome(false, f.Reason + (f.Unpaused ? " (the GPU was unpaused)" : "")),
            _ => new BridgeCheckpointOutcome(false, $"unexpected answer {reply.GetType().Name}"),
        };
    }
}
