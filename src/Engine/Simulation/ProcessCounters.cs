namespace Gpuckpt.Engine.Simulation;

/// <summary>
/// The KFD CRIU ops a process received. PROCESS_INFO, CHECKPOINT and RESTORE count every call (failed and refused ones
/// included); UNPAUSE and RESUME count the ones that took effect — a refused one changes nothing — so "exactly one
/// UNPAUSE" is what a crash-recovery test can assert.
/// </summary>
public sealed record ProcessCounters(int ProcessInfo, int Checkpoint, int Unpause, int Restore, int Resume);
