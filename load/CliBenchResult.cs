namespace Gpuckpt.Load;

/// <summary>
/// What `gpuckpt-load cli` measured, medians over its runs: seconds, peak RSS in MiB, and each ratio as its comparator's
/// time over the command's (1 is the comparator's speed).
/// </summary>
public sealed record CliBenchResult(long Bytes, int Bos, double Checkpoint, double DdSave, double Pause, double CheckpointMiB,
    double Restore, double DdLoad, double RestoreMiB, double ReadsPerByte, double CheckpointRatio, double RestoreRatio, double RoundTrip);
