using Gpuckpt.Load.Reports;
using Gpuckpt.Load.Statistics;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Reports;

public sealed class ComparisonSpecs
{
    [Fact]
    public void A_step_whose_latencies_doubled_is_slower_and_one_whose_latencies_halved_is_faster()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var latencies = Enumerable.Range(0, 200).Select(_ => TimeSpan.FromMicroseconds(random.Next(10_000, 2_000_000))).ToList();
        var before = Report(("checkpoint", latencies), ("restore", latencies));
        var now = Report(("checkpoint", [.. latencies.Select(l => l * 2)]), ("restore", [.. latencies.Select(l => l / 2)]));

        var rows = Comparison.Of(before, now);

        foreach (var metric in (string[])["mean ms", "p50 ms", "p75 ms", "p95 ms", "p99 ms"])
        {
            var checkpoint = rows.Single(r => r.Step == "checkpoint" && r.Metric == metric);
            Assert.True(checkpoint.Verdict == "slower", $"seed {seed}: {checkpoint}");
            Assert.Equal(1.0, checkpoint.Change!.Value, 2);
            var restore = rows.Single(r => r.Step == "restore" && r.Metric == metric);
            Assert.True(restore.Verdict == "faster", $"seed {seed}: {restore}");
            Assert.Equal(-0.5, restore.Change!.Value, 2);
        }
        // As many operations in as many seconds: throughput is the same.
        Assert.All(rows.Where(r => r.Metric == "ops/s" && r.Step != "iteration"), r => Assert.Equal("same", r.Verdict));
    }

    [Fact]
    public void A_percentile_either_report_could_not_support_is_not_compared()
    {
        var few = Enumerable.Range(1, 30).Select(i => TimeSpan.FromMilliseconds(i)).ToList();
        var many = Enumerable.Range(1, 300).Select(i => TimeSpan.FromMilliseconds(i)).ToList();
        var rows = Comparison.Of(Report(("checkpoint", few)), Report(("checkpoint", many)));
        var p99 = rows.Single(r => r.Step == "checkpoint" && r.Metric == "p99 ms");
        Assert.Null(p99.Old);
        Assert.Equal("n/a", p99.Verdict);
    }

    [Fact]
    public void The_json_report_reads_back_as_written()
    {
        var latencies = Enumerable.Range(1, 50).Select(i => TimeSpan.FromMilliseconds(i * 3)).ToList();
        var report = Report(("checkpoint", latencies));
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, report.ToJson());
            var read = LoadReport.Read(file);
            Assert.Equal(report.ToJson(), read.ToJson());
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static LoadReport Report(params (string Step, List<TimeSpan> Latencies)[] steps)
    {
        var results = steps.Select(s =>
        {
            var recorder = new StepRecorder(s.Step);
            for (var i = 0; i < s.Latencies.Count; i++) recorder.Success(s.Latencies[i], 1 << 20, i * 0.1);
            return recorder.Result(20, 1);
        }).ToList();
        var iteration = new StepRecorder("iteration").Result(20, 1);
        var scenario = new ScenarioResult("round-trip", "constant 2 copies for 20s", 20, 1, new WarmUpResult(0, 0, 0, null), iteration, results,
            new LatencyStats().Summary(), [], []);
        return new LoadReport("gpuckpt-load run", DateTimeOffset.UnixEpoch, "spec", [scenario]);
    }
}
