using Gpuckpt.Load.Statistics;

namespace Gpuckpt.Load.Reports;

/// <summary>`--compare OLD.json`: each step both reports ran, figure by figure.</summary>
public static class Comparison
{
    public static IReadOnlyList<ComparisonRow> Of(LoadReport old, LoadReport now)
    {
        var rows = new List<ComparisonRow>();
        foreach (var scenario in now.Scenarios)
        {
            var before = old.Scenarios.FirstOrDefault(s => s.Name == scenario.Name);
            if (before is null) continue;
            foreach (var step in scenario.Steps.Prepend(scenario.Iteration))
            {
                var was = before.Steps.Prepend(before.Iteration).FirstOrDefault(s => s.Name == step.Name);
                if (was is null) continue;
                rows.Add(new ComparisonRow(scenario.Name, step.Name, "mean ms", was.Latency.MeanMs, step.Latency.MeanMs, LowerIsBetter: true));
                foreach (var p in LatencyStats.Percentiles)
                    rows.Add(new ComparisonRow(scenario.Name, step.Name, $"p{p} ms", was.Latency.At(p).Ms, step.Latency.At(p).Ms, LowerIsBetter: true));
                rows.Add(new ComparisonRow(scenario.Name, step.Name, "ops/s", was.OperationsPerSecond, step.OperationsPerSecond, LowerIsBetter: false));
                if (step.Bytes > 0) rows.Add(new ComparisonRow(scenario.Name, step.Name, "GB/s", was.GigabytesPerSecond, step.GigabytesPerSecond, LowerIsBetter: false));
            }
        }
        return rows;
    }
}
