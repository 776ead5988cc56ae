using Gpuckpt.Load.Statistics;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests.Scenarios;

/// <summary>The migrate scenario: two `gpuckpt node` processes on 127.0.0.1, a process moved from a to b.</summary>
[Trait("Tier", "Full")]
public sealed class MigrateScenarioSpecs
{
    [Fact]
    public async Task A_migrated_process_continues_on_b_like_its_twin_and_the_run_leaves_nothing_behind()
    {
        var work = Directory.CreateTempSubdirectory("gpuckpt-load-migrate-").FullName;
        var reports = Path.Combine(work, "report");
        try
        {
            var result = await GpuckptProcess.RunAsync(["run", "--scenario", "migrate", "--load", "constant:1:1s", "--max-iterations", "1", "--warm-up", "0s",
                "--small-size", "1MiB", "--no-raw-copy", "--format", "json", "--report", reports, "--work-dir", Path.Combine(work, "run")],
                timeout: TimeSpan.FromMinutes(5), program: GpuckptProcess.LoadTool);

            Assert.True(result.ExitCode == 0, result.ToString());
            var scenario = Assert.Single(LoadReport.Read(Path.Combine(reports, "report.json")).Scenarios);
            Assert.Equal(1, scenario.Iteration.Ok);
            var migrate = scenario.Steps.Single(s => s.Name == "migrate");
            Assert.Equal(1, migrate.Ok);
            Assert.True(migrate.Bytes > 1 << 20, $"image bytes {migrate.Bytes}");
            // verify: the moved process and its twin left on a reached the same digest after the same steps.
            Assert.Equal(1, scenario.Steps.Single(s => s.Name == "verify").Ok);
            Assert.Equal(1, scenario.Pauses.Count);
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(work, "run")));
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }
}
