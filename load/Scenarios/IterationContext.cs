using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Scenarios;

/// <summary>One iteration of a scenario: its number, the target, and <see cref="Step"/>, which times and counts a step.</summary>
public sealed class IterationContext
{
    private readonly Func<string, StepRecorder> _steps;
    private readonly Action<double> _pause;
    private readonly Func<double> _now;
    private readonly string _prefix;
    private readonly StrongBox<long> _bytes;

    public IterationContext(long number, LoadTarget target, Func<string, StepRecorder> steps, Action<double> pause, Func<double> now, CancellationToken token)
    {
        (Number, Target, Token, _steps, _pause, _now, _prefix, _bytes) = (number, target, token, steps, pause, now, "", new StrongBox<long>());
    }

    /// <summary>The same iteration, run as part <paramref name="part"/> of a mix: its steps are named "part/step".</summary>
    public IterationContext(IterationContext parent, string part)
    {
        (Number, Target, Token, _steps, _pause, _now, _prefix, _bytes) = (parent.Number, parent.Target, parent.Token, parent._steps, parent._pause, parent._now, $"{parent._prefix}{part}/", parent._bytes);
    }

    public long Number { get; }

    /// <summary>Bytes moved by the steps of this iteration so far (a mix's part adds to the iteration's count).</summary>
    public long Bytes => Interlocked.Read(ref _bytes.Value);
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
        Interlocked.Add(ref _bytes.Value, outcome.Bytes);
        if (outcome.PauseSeconds is { } p) _pause(p);
    }
}
