namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// What a bridge restore asks of the engine's jobs: the journalled restore of a GPU image into the task whose
/// RESTORE_EXT_FILE waits, held short of RESUME; then, at RESUME_DEVICES_LATE, RESUME once; or, when CRIU's restore
/// fails, the held state discarded without RESUME.
/// </summary>
public interface IBridgeRestores
{
    /// <summary>Runs the restore job up to its hold: KFD RESTORE, every BO, every content byte checked and written.</summary>
    Task<BridgeRestoreOutcome> BuildAsync(string gpuImageDir, CancellationToken cancel);

    /// <summary>Releases the held job: RESUME, exactly once.</summary>
    Task<BridgeRestoreOutcome> ResumeAsync(CancellationToken cancel);

    /// <summary>Releases the held job without RESUME (CRIU's restore failed and ends the task).</summary>
    Task<BridgeRestoreOutcome> DiscardAsync(string reason, CancellationToken cancel);
}
