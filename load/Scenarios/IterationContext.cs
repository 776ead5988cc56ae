using System.Diagnostics;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Scenarios;

/// <summary>One iteration of a scenario: its number, the target, and <see cref="Step"/>, which times and counts a step.</summary>
public sealed class IterationContext
{
    private readonly Func<string, StepRecorder> _steps;
    private readonly Action<double> _pause;
    private readonly Func<double> _now;
    private readonly string _prefix;

    public IterationContext(long number, LoadTarget target, Func<string, StepRecorder> steps, Action<double> pause, Func<double> now, CancellationToken token)
    {
        (Number, Target, Token, _steps, _pause, _now, _prefix) = (number, target, token, steps, pause, now, "");
    }

    /// <summary>The same iteration, run as part <paramref name="part"/> of a mix: its steps are named "part/step".</summary>
    public IterationContext(IterationContext parent, string part)
    {
        (Number, Target, Token, _steps, _pause, _now, _prefix) = (parent.Number, parent.Target, parent.Token, parent._steps, parent._pause, parent._now, $"{parent._prefix}{part}/");
    }

    public long Number { get; }
    public LoadTarget Target { get; }
    public CancellationToken Token { get; }

    /// <summary>Runs and times a step; a step that throws is counted under its error kind and ends the iteration.</summary>
    public async Task Step(string name, Func<Task<StepOutcome>> body)
    {
        var recorder = _steps(_prefix + name);
        var start = Stopwatch.GetTimestamp();
        StepOutcome outcome;
        try
        {
            outcome = await body();
        }
        catch (Exception e)
        {
            recorder.Failure(LoadError.KindOf(e), e.Message);
            throw new StepFailed(_prefix + name, e);
        }
        recorder.Success(Stopwatch.GetElapsedTime(start), outcome.Bytes, _now());
        if (outcome.PauseSeconds is { } p) _pause(p);
    }
}
