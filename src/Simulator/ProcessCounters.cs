namespace Gpuckpt.Simulator;

/// <summary>
/// The KFD CRIU ops a process received. PROCESS_INFO, CHECKPOINT and RESTORE count every call (failed and refused ones
/// included); UNPAUSE and RESUME count the ones that took effect — a refused one changes nothing — so "exactly one
/// UNPAUSE" is what a crash-recovery test can assert. <paramref name="Evictions"/> is the kernel's eviction count now:
/// every PROCESS_INFO adds one and every UNPAUSE takes one away; the queues run only at zero.
/// </summary>
public sealed record ProcessCounters(int ProcessInfo, int Checkpoint, int Unpause, int Restore, int Resume, int Evictions = 0);
