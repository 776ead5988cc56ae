using System.Collections.Concurrent;
using System.Diagnostics;
using Gpuckpt.Load.Comparators;
using Gpuckpt.Load.Reports;
using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Scenarios;

/// <summary>
/// Runs a scenario under its load simulations, one phase after the other on a fixed schedule: first the warm-up
/// (the first simulation held at its starting level; reported, not counted), then the measured phases. Iterations
/// still running when a phase ends finish in the next one's time; the run waits for all of them before it reports.
/// </summary>
public sealed class ScenarioRunner(LoadScenario scenario, IReadOnlyList<LoadSimulation> load, RunLimits limits, LoadTarget target)
{
    private long _numbers;

    public async Task<ScenarioResult> Run(bool measureRawCopy, CancellationToken token)
    {
        if (load.Count == 0) throw new ArgumentException("a run needs at least one load simulation");
        var warm = new Recorders(scenario.Steps);
        if (limits.WarmUp > TimeSpan.Zero) await RunPhases([load[0].WarmUp(limits.WarmUp)], warm, long.MaxValue, token);
        var warmUp = warm.Iteration.Result(limits.WarmUp.TotalSeconds, Math.Max(limits.WarmUp.TotalSeconds, 1));

        var measured = new Recorders(scenario.Steps);
        await RunPhases(load, measured, limits.MaxIterations, token);
        var seconds = measured.Seconds;
        var window = limits.WindowSeconds > 0 ? limits.WindowSeconds : Math.Max(1, Math.Round(load.Sum(l => l.During.TotalSeconds) / 30));
        var steps = measured.Steps.Select(s => s.Result(seconds, window)).ToList();
        // A plain copy per size of operation (sizes within a quarter of each other share one), so that each step
        // stands beside a copy of about as many bytes as it moved.
        var raw = new List<RawCopyResult>();
        if (measureRawCopy)
            foreach (var bytes in steps.Where(s => RawComparisonRow.Comparable(s.Name) && s.Ok > 0).Select(s => s.BytesPerOperation).Order())
                if (raw.Count == 0 || bytes > raw[^1].Bytes * 1.25)
                    raw.Add(await RawCopy.Measure(bytes, target.Work, token));
        List<double> pauses;
        lock (measured.PauseMs) pauses = [.. measured.PauseMs];
        return new ScenarioResult(scenario.Name, string.Join(", then ", load.Select(l => l.Describe())), seconds, window,
            new WarmUpResult(limits.WarmUp.TotalSeconds, warmUp.Ok, warmUp.Failed, warmUp.Latency.MeanMs),
            measured.Iteration.Result(seconds, window), steps, measured.Pauses.Summary(), pauses, raw);
    }

    private async Task RunPhases(IReadOnlyList<LoadSimulation> phases, Recorders recorders, long maxIterations, CancellationToken token)
    {
        var started = 0L;
        var running = new ConcurrentBag<Task>();
        var gate = new SemaphoreSlim(limits.MaxInFlight);
        recorders.Start();
        bool TryStart() => !token.IsCancellationRequested && Interlocked.Increment(ref started) <= maxIterations;

        var offset = TimeSpan.Zero;
        var phaseTasks = new List<Task>();
        foreach (var phase in phases)
        {
            var (begin, end) = (offset, offset + phase.During);
            offset = end;
            phaseTasks.Add(Task.Run(async () =>
            {
                await Until(begin);
                switch (phase)
                {
                    case KeepConstant k:
                        await Task.WhenAll(Enumerable.Range(0, k.Copies).Select(_ => Worker(end, _ => true)));
                        break;
                    case RampingConstant r:
                        await Task.WhenAll(Enumerable.Range(0, Math.Max(r.From, r.To)).Select(i => Worker(end, elapsed => i < r.CopiesAt(elapsed - begin))));
                        break;
                    case Inject i:
                        await Injected(i.StartTimes(), begin);
                        break;
                    case RampingInject r:
                        await Injected(r.StartTimes(), begin);
                        break;
                }
            }, CancellationToken.None));
        }
        await Task.WhenAll(phaseTasks);
        while (running.TryTake(out var task)) await task;
        recorders.Stop();

        async Task Until(TimeSpan at)
        {
            var wait = at - recorders.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        // A copy: runs iterations back to back while the phase lasts and the ramp wants it.
        async Task Worker(TimeSpan end, Func<TimeSpan, bool> wanted)
        {
            while (recorders.Elapsed < end && !token.IsCancellationRequested)
            {
                if (!wanted(recorders.Elapsed))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
                    continue;
                }
                if (!TryStart()) return;
                await Iteration(recorders, token);
            }
        }

        async Task Injected(IEnumerable<TimeSpan> starts, TimeSpan begin)
        {
            foreach (var at in starts)
            {
                await Until(begin + at);
                if (!TryStart()) return;
                await gate.WaitAsync(CancellationToken.None);
                running.Add(Task.Run(async () =>
                {
                    try { await Iteration(recorders, token); }
                    finally { gate.Release(); }
                }, CancellationToken.None));
            }
        }
    }

    private async Task Iteration(Recorders recorders, CancellationToken token)
    {
        var number = Interlocked.Increment(ref _numbers);
        var start = Stopwatch.GetTimestamp();
        var context = new IterationContext(number, target, recorders.Step, recorders.Pause, () => recorders.Elapsed.TotalSeconds, token);
        try
        {
            await scenario.Body(context).WaitAsync(limits.IterationTimeout, token);
            recorders.Iteration.Success(Stopwatch.GetElapsedTime(start), context.Bytes, recorders.Elapsed.TotalSeconds);
        }
        catch (StepFailed failed)
        {
            recorders.Iteration.Failure(failed.Kind, failed.Message);
        }
        catch (Exception e)
        {
            recorders.Iteration.Failure(LoadError.KindOf(e), e.Message);
        }
    }

    /// <summary>The recorders of one run (warm-up or measured): the whole iteration, each step, the pauses.</summary>
    private sealed class Recorders
    {
        private readonly ConcurrentDictionary<string, StepRecorder> _steps = new();
        private readonly List<string> _order;
        private long _start, _stop;

        public Recorders(IReadOnlyList<string> steps)
        {
            _order = [.. steps];
            foreach (var s in steps) _steps[s] = new StepRecorder(s);
        }

        public StepRecorder Iteration { get; } = new("iteration");
        public LatencyStats Pauses { get; } = new();
        public List<double> PauseMs { get; } = [];

        public IEnumerable<StepRecorder> Steps
        {
            get
            {
                lock (_order) return [.. _order.Select(s => _steps[s])];
            }
        }

        public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);
        public double Seconds => Stopwatch.GetElapsedTime(_start, _stop).TotalSeconds;

        public void Start() => _start = Stopwatch.GetTimestamp();
        public void Stop() => _stop = Stopwatch.GetTimestamp();

        public StepRecorder Step(string name) => _steps.GetOrAdd(name, n =>
        {
            lock (_order) if (!_order.Contains(n)) _order.Add(n);
            return new StepRecorder(n);
        });

        public void Pause(double seconds)
        {
            Pauses.Record(TimeSpan.FromSeconds(seconds));
            lock (PauseMs) PauseMs.Add(seconds * 1000);
        }
    }
}
