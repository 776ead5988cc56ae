namespace Gpuckpt.Simulator.Model;

/// <summary>Where a simulated process stands in the KFD CRIU op sequence.</summary>
internal enum ProcessPhase
{
    /// <summary>Queues run; the workload may advance.</summary>
    Running,
    /// <summary>PROCESS_INFO evicted the queues; CHECKPOINT and UNPAUSE are allowed.</summary>
    Paused,
    /// <summary>Made by CreateRestoreTarget; only RESTORE is allowed.</summary>
    Fresh,
    /// <summary>RESTORE done, waiting for RESUME.</summary>
    Restored,
}
