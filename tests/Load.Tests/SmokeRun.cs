using Gpuckpt.Load.Statistics;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Load.Tests;

/// <summary>
/// The CI's smoke load test, run once for the specs that read its reports: `gpuckpt-load run` of the mix (small
/// checkpoints, round trips, large checkpoints) for a warm-up and two measured phases, reports kept in
/// $GPUCKPT_REPORT_DIR/load; then a short second run with `--compare` against the first one's JSON.
/// </summary>
public sealed class SmokeRun : IAsyncLifetime
{
    public static readonly string[] Arguments =
    [
        "run", "--scenario", "mix", "--mix", "small-checkpoints=5,round-trip=4,large-checkpoints=1",
        "--load", "constant:2:12s", "--load", "ramp:1:3:8s", "--warm-up", "3s",
        "--small-size", "1MiB", "--large-size", "32MiB", "--max-iterations", "200", "--max-in-flight", "4",
    ];

    public string Reports { get; } = Path.Combine(Environment.GetEnvironmentVariable("GPUCKPT_REPORT_DIR") is { Length: > 0 } dir ? dir : Path.GetTempPath(), "load");
    public string Work { get; } = Directory.CreateTempSubdirectory("gpuckpt-load-smoke-").FullName;
    public GpuckptProcess.Result First { get; private set; } = null!;
    public GpuckptProcess.Result Second { get; private set; } = null!;
    public LoadReport Report { get; private set; } = null!;
    public string FirstDir => Path.Combine(Reports, "smoke");
    public string SecondDir => Path.Combine(Reports, "compare");

    public async Task InitializeAsync()
    {
        if (Directory.Exists(Reports)) Directory.Delete(Reports, true);
        First = await GpuckptProcess.RunAsync([.. Arguments, "--report", FirstDir, "--work-dir", Work], timeout: TimeSpan.FromMinutes(3), program: GpuckptProcess.LoadTool);
        Second = await GpuckptProcess.RunAsync(["run", "--scenario", "mix", "--mix", "small-checkpoints=1", "--load", "inject:2:4s", "--warm-up", "0s",
            "--small-size", "1MiB", "--no-raw-copy", "--compare", Path.Combine(FirstDir, "report.json"), "--report", SecondDir, "--work-dir", Work],
            timeout: TimeSpan.FromMinutes(2), program: GpuckptProcess.LoadTool);
        if (File.Exists(Path.Combine(FirstDir, "report.json"))) Report = LoadReport.Read(Path.Combine(FirstDir, "report.json"));
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Work, true);
        return Task.CompletedTask;
    }
}
