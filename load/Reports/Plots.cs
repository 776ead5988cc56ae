using Gpuckpt.Load.Statistics;
using ScottPlot;

namespace Gpuckpt.Load.Reports;

/// <summary>The report's plots as PNG bytes (ScottPlot): throughput over time, latency percentiles, pauses, the raw copy, the comparison.</summary>
public static class Plots
{
    private const int Width = 900, Height = 360;

    /// <summary>Operations per second of each step, window by window.</summary>
    public static byte[] Throughput(ScenarioResult s) => OverTime(s, "throughput over time", "operations / s", s.Steps.Where(st => st.Ok > 0), w => w.OperationsPerSecond);

    /// <summary>GB/s of each step that moves bytes, window by window.</summary>
    public static byte[] Bandwidth(ScenarioResult s) => OverTime(s, "bytes moved over time", "GB/s", s.Steps.Where(st => st.Bytes > 0), w => w.GigabytesPerSecond);

    private static byte[] OverTime(ScenarioResult s, string title, string unit, IEnumerable<StepResult> steps, Func<ThroughputWindow, double> rate)
    {
        var plot = New($"{s.Name}: {title}", "seconds into the measured run", unit);
        foreach (var step in steps)
        {
            var line = plot.Add.Scatter(step.Windows.Select(w => w.StartSeconds + w.Seconds / 2).ToArray(), step.Windows.Select(rate).ToArray());
            line.LegendText = step.Name;
            line.LineWidth = 2;
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    /// <summary>Min, mean, each percentile the sample count supports, and max of each step, as grouped bars.</summary>
    public static byte[] Latency(ScenarioResult s)
    {
        var plot = New($"{s.Name}: latency by step (percentiles the samples cannot support are left out)", "", "milliseconds");
        var steps = s.Steps.Where(st => st.Ok > 0).ToList();
        string[] figures = ["min", "mean", .. LatencyStats.Percentiles.Select(p => $"p{p}"), "max"];
        var palette = new ScottPlot.Palettes.Category10();
        for (var f = 0; f < figures.Length; f++)
        {
            var bars = new List<Bar>();
            for (var i = 0; i < steps.Count; i++)
            {
                var l = steps[i].Latency;
                double? value = f switch
                {
                    0 => l.MinMs,
                    1 => l.MeanMs,
                    _ when f == figures.Length - 1 => l.MaxMs,
                    _ => l.Percentiles[f - 2].Ms,
                };
                if (value is { } v) bars.Add(new Bar { Position = i * (figures.Length + 1) + f, Value = v, FillColor = palette.GetColor(f) });
            }
            var plotted = plot.Add.Bars(bars);
            plotted.LegendText = figures[f];
        }
        plot.Axes.Bottom.SetTicks([.. steps.Select((_, i) => i * (figures.Length + 1) + (figures.Length - 1) / 2.0)], [.. steps.Select(st => st.Name)]);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    /// <summary>How long the processes were paused, as a histogram.</summary>
    public static byte[] Pauses(ScenarioResult s)
    {
        var plot = New($"{s.Name}: pause distribution ({s.PauseMs.Count} pauses)", "pause, milliseconds", "pauses");
        if (s.PauseMs.Count > 0)
        {
            var (min, max) = (s.PauseMs.Min(), s.PauseMs.Max());
            var bins = Math.Clamp((int)Math.Ceiling(Math.Sqrt(s.PauseMs.Count)), 1, 40);
            var width = Math.Max((max - min) / bins, 0.001);
            var counts = new double[bins];
            foreach (var p in s.PauseMs) counts[Math.Min(bins - 1, (int)((p - min) / width))]++;
            var bars = plot.Add.Bars(Enumerable.Range(0, bins).Select(i => min + (i + 0.5) * width).ToArray(), counts);
            foreach (var bar in bars.Bars) bar.Size = width * 0.95;
        }
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    /// <summary>Each step's GB/s beside the plain copy of the same bytes.</summary>
    public static byte[] Raw(ScenarioResult s)
    {
        var rows = RawComparisonRow.Of(s);
        var plot = New($"{s.Name}: engine against the raw copy of the same bytes", "", "GB/s");
        var palette = new ScottPlot.Palettes.Category10();
        var engine = plot.Add.Bars(rows.Select((r, i) => new Bar { Position = i * 3, Value = r.EngineGigabytesPerSecond, FillColor = palette.GetColor(0) }).ToList());
        engine.LegendText = "engine";
        var raw = plot.Add.Bars(rows.Select((r, i) => new Bar { Position = i * 3 + 1, Value = r.RawGigabytesPerSecond, FillColor = palette.GetColor(1) }).ToList());
        raw.LegendText = "raw copy";
        plot.Axes.Bottom.SetTicks([.. rows.Select((_, i) => i * 3 + 0.5)], [.. rows.Select(r => $"{r.Step}\n{r.RawHow}")]);
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    /// <summary>Mean latency of each step, before and now.</summary>
    public static byte[] Compare(IReadOnlyList<ComparisonRow> rows)
    {
        var means = rows.Where(r => r.Metric == "mean ms" && r.Old is not null && r.New is not null).ToList();
        var plot = New("mean latency against the earlier report", "", "milliseconds");
        var palette = new ScottPlot.Palettes.Category10();
        var before = plot.Add.Bars(means.Select((r, i) => new Bar { Position = i * 3, Value = r.Old!.Value, FillColor = palette.GetColor(7) }).ToList());
        before.LegendText = "before";
        var now = plot.Add.Bars(means.Select((r, i) => new Bar { Position = i * 3 + 1, Value = r.New!.Value, FillColor = palette.GetColor(0) }).ToList());
        now.LegendText = "now";
        plot.Axes.Bottom.SetTicks([.. means.Select((_, i) => i * 3 + 0.5)], [.. means.Select(r => $"{r.Scenario}: {r.Step}")]);
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    private static Plot New(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    private static byte[] Png(Plot plot) => plot.GetImageBytes(Width, Height, ImageFormat.Png);
}
