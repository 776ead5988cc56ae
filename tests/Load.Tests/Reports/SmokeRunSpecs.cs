using Gpuckpt.Load.Reports;
using Gpuckpt.Load.Statistics;
using Xunit;

namespace Gpuckpt.Load.Tests.Reports;

[Collection(SmokeCollection.Name)]
[Trait("Tier", "Full")]
public sealed class SmokeRunSpecs(SmokeRun smoke)
{
    private ScenarioResult Mix => Assert.Single(smoke.Report.Scenarios);
    private StepResult Step(string name) => Mix.Steps.Single(s => s.Name == name);

    [Fact]
    public void The_smoke_run_succeeds_and_writes_every_report()
    {
        Assert.True(smoke.First.ExitCode == 0, smoke.First.ToString());
        foreach (var file in (string[])["report.md", "report.csv", "report.json", "report.html"])
            Assert.Contains($"report: {Path.Combine(smoke.FirstDir, file)}", smoke.First.Stdout);
        Assert.Equal(0, Mix.Iteration.Failed);
        Assert.Empty(Mix.Steps.SelectMany(s => s.Errors));
    }

    [Fact]
    public void Every_measured_iteration_ran_one_part_of_the_mix_and_the_warm_up_is_not_counted()
    {
        Assert.True(Mix.WarmUp.Ok > 0, $"warm-up: {Mix.WarmUp}");
        var parts = Step("small-checkpoints/checkpoint").Ok + Step("round-trip/verify").Ok + Step("large-checkpoints/checkpoint").Ok;
        Assert.Equal(Mix.Iteration.Ok, parts);
        Assert.InRange(Mix.Iteration.Ok, 10, 200);
        // The mix runs its parts 5:4:1, interleaved: every ten iterations run each part at least once.
        Assert.All(Mix.Steps.Where(s => s.Name.EndsWith("/checkpoint", StringComparison.Ordinal)), s => Assert.True(s.Ok > 0, $"{s.Name} never ran"));
        Assert.Equal(Mix.Steps.Sum(s => s.Bytes), Mix.Iteration.Bytes);
        // Every restored copy continued exactly like its original (a mismatch is a digest-mismatch error).
        Assert.Equal(Step("round-trip/restore").Ok, Step("round-trip/verify").Ok);
        Assert.True(Step("round-trip/verify").Ok > 0);
    }

    [Fact]
    public void Throughput_windows_hold_every_operation_and_every_checkpoint_reports_its_pause()
    {
        foreach (var step in Mix.Steps)
        {
            Assert.Equal(step.Ok, step.Windows.Sum(w => w.Operations));
            Assert.Equal(step.Bytes, step.Windows.Sum(w => w.Bytes));
        }
        var checkpoints = Mix.Steps.Where(s => s.Name.EndsWith("/checkpoint", StringComparison.Ordinal)).Sum(s => s.Ok);
        Assert.Equal(checkpoints, Mix.Pauses.Count);
        Assert.Equal(checkpoints, Mix.PauseMs.Count);
        Assert.All(Mix.PauseMs, p => Assert.InRange(p, 0.001, Mix.Steps.Max(s => s.Latency.MaxMs ?? 0)));
    }

    [Fact]
    public void A_percentile_the_samples_cannot_support_reads_as_such_in_every_report()
    {
        var markdown = File.ReadAllText(Path.Combine(smoke.FirstDir, "report.md"));
        var csv = File.ReadAllLines(Path.Combine(smoke.FirstDir, "report.csv"));
        foreach (var step in Mix.Steps.Prepend(Mix.Iteration))
        {
            var row = csv.Single(l => l.StartsWith($"mix,{step.Name},", StringComparison.Ordinal));
            foreach (var p in step.Latency.Percentiles)
            {
                Assert.Equal(step.Latency.Count < p.SamplesNeeded, p.Ms is null);
                if (p.Ms is null) Assert.Contains($"n/a (needs ≥ {p.SamplesNeeded} samples)", row);
            }
            Assert.Contains($"| {step.Name} | {step.Ok} | {step.Failed} |", markdown);
        }
    }

    [Fact]
    public void Each_checkpoint_and_restore_stands_beside_a_plain_copy_of_as_many_bytes()
    {
        var rows = RawComparisonRow.Of(Mix);
        foreach (var step in Mix.Steps.Where(s => s.Ok > 0 && RawComparisonRow.Comparable(s.Name)))
        {
            var row = Assert.Single(rows, r => r.Step == step.Name);
            Assert.True(row.RawGigabytesPerSecond > 0 && row.EngineGigabytesPerSecond > 0, $"{row}");
            // Sizes within a quarter of each other share one plain copy.
            Assert.InRange((double)RawComparisonRow.Nearest(Mix.Raw, step.BytesPerOperation)!.Bytes / step.BytesPerOperation, 0.75, 1.25);
        }
        Assert.Contains(rows, r => r.RawHow.StartsWith("write, dd", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.RawHow.StartsWith("read, dd", StringComparison.Ordinal));
    }

    [Fact]
    public void The_run_removes_everything_it_created()
    {
        Assert.Empty(Directory.GetFileSystemEntries(smoke.Work));
    }

    [Fact]
    public void Compare_shows_each_step_against_the_earlier_report()
    {
        Assert.True(smoke.Second.ExitCode == 0, smoke.Second.ToString());
        var markdown = File.ReadAllText(Path.Combine(smoke.SecondDir, "report.md"));
        Assert.Contains("## Against the earlier report", markdown);
        var before = Step("small-checkpoints/checkpoint").Latency.MeanMs!.Value;
        Assert.Contains($"| mix | small-checkpoints/checkpoint | mean ms | {ReportText.Figure(before)} |", markdown);
        Assert.Contains("against the earlier report", smoke.Second.Stdout);
    }
}
