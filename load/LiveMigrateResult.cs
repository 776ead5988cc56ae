namespace Gpuckpt.Load;

/// <summary>What `gpuckpt-load migrate --live` measured, medians: the pauses in seconds, their ratio, the middle run's rounds (bytes each).</summary>
public sealed record LiveMigrateResult(double StopPause, double LivePause, double Ratio, string Rounds, bool Same);
