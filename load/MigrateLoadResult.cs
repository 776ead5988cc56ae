namespace Gpuckpt.Load;

/// <summary>What `gpuckpt-load migrate` measured, medians: the transfer rate over the raw TCP copy's, the rates in MB/s, the source's pause in seconds.</summary>
public sealed record MigrateLoadResult(double Ratio, double MigrateRate, double RawRate, double Pause, bool Same);
