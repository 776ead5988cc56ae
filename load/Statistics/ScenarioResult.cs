using Gpuckpt.Load.Comparators;

namespace Gpuckpt.Load.Statistics;

/// <summary>One scenario's measured run: the whole iteration, each step, the pauses the processes felt, the raw copies of one operation's bytes beside it.</summary>
public sealed record ScenarioResult(
    string Name,
    string Load,
    double Seconds,
    double WindowSeconds,
    WarmUpResult WarmUp,
    StepResult Iteration,
    IReadOnlyList<StepResult> Steps,
    LatencySummary Pauses,
    IReadOnlyList<double> PauseMs,
    IReadOnlyList<RawCopyResult> Raw);
