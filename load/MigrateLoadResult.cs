namespace Gpuckpt.Load;

/// <summary>
/// What `gpuckpt-load migrate` measured, medians of the counted runs: the transfer rate over the raw TCP copy's, the
/// rates in MB/s, the source's pause in seconds; each counted run's ratio, in the order they ran; and the warm-up
/// migration's (the first after the nodes started) ratio, rate and pause.
/// </summary>
public sealed record MigrateLoadResult(double Ratio, double MigrateRate, double RawRate, double Pause, bool Same, double FirstRatio, double FirstRate, double FirstPause,
    IReadOnlyList<double> RunRatios);
