namespace Gpuckpt.Load.Scenarios;

/// <summary>
/// What bounds a run beside its load simulations: the warm-up's length, the most iterations measured, how long one
/// iteration may take (past that it counts as a timeout), how many injected iterations may run at once (further
/// starts wait), and the throughput window (0: about 30 windows over the run, at least 1 s each).
/// </summary>
public sealed record RunLimits(TimeSpan WarmUp, long MaxIterations, TimeSpan IterationTimeout, int MaxInFlight, double WindowSeconds = 0);
