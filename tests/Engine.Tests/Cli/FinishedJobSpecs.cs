using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// A finished job's id given again (`--job`) is refused, saying when it finished, instead of exit 0 replaying the old
/// result as if the new command had run; nothing is paused and the first image is left as it was.
/// </summary>
public sealed class FinishedJobSpecs
{
    [Fact]
    public async Task Jobs_lists_each_job_with_its_kind_state_and_when_it_started_and_ended()
    {
        using var sim = new TestSimulator();
        var root = Directory.CreateTempSubdirectory("gpuckpt-jobs-").FullName;
        try
        {
            var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 32));
            var state = Path.Combine(root, "state");
            var before = DateTime.UtcNow.AddSeconds(-1);
            var done = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", pid.ToString(), "--images", Path.Combine(root, "image"),
                "--leave-running", "--state-dir", state, "--job", "ckpt-listed"], timeout: TimeSpan.FromMinutes(2));
            Assert.True(done.ExitCode == 0, done.ToString());
            var after = DateTime.UtcNow.AddSeconds(1);

            var json = await GpuckptProcess.RunAsync(["jobs", "--json", "--state-dir", state], timeout: TimeSpan.FromMinutes(2));
            Assert.True(json.ExitCode == 0, json.ToString());
            var job = Assert.Single(System.Text.Json.JsonDocument.Parse(json.Stdout).RootElement.EnumerateArray());
            Assert.Equal("checkpoint", job.GetProperty("kind").GetString());
            Assert.Equal("completed", job.GetProperty("state").GetString());
            var started = job.GetProperty("started_at").GetDateTime().ToUniversalTime();
            var ended = job.GetProperty("ended_at").GetDateTime().ToUniversalTime();
            Assert.True(before <= started && started <= ended && ended <= after, $"started {started:O}, ended {ended:O}, not within the run ({before:O} .. {after:O})");

            var text = await GpuckptProcess.RunAsync(["jobs", "--state-dir", state], timeout: TimeSpan.FromMinutes(2));
            var lines = text.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("JOB", lines[0]);
            Assert.Matches($@"^ckpt-listed +checkpoint +completed +{started:yyyy-MM-dd HH:mm:ss} +{ended:yyyy-MM-dd HH:mm:ss} +pid {pid} -> ", lines[1]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_finished_checkpoint_job_id_given_again_is_refused_with_when_it_finished()
    {
        using var sim = new TestSimulator();
        var root = Directory.CreateTempSubdirectory("gpuckpt-finished-").FullName;
        try
        {
            var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 31));
            var state = Path.Combine(root, "state");
            string[] Args(string images) => ["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", pid.ToString(), "--images", images,
                "--leave-running", "--state-dir", state, "--job", "ckpt-nightly"];
            var first = await GpuckptProcess.RunAsync(Args(Path.Combine(root, "first")), timeout: TimeSpan.FromMinutes(2));
            Assert.True(first.ExitCode == 0, first.ToString());
            var before = sim.Client.State(pid).Counters;

            var again = await GpuckptProcess.RunAsync(Args(Path.Combine(root, "second")), timeout: TimeSpan.FromMinutes(2));

            Assert.True(again.ExitCode == 2, again.ToString());
            var line = Assert.Single(again.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Matches(@"job ckpt-nightly finished at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(completed", line);
            Assert.Contains("choose another --job", line);
            Assert.Equal(before, sim.Client.State(pid).Counters);
            Assert.False(Directory.Exists(Path.Combine(root, "second")), "the refused job made an image directory");
            Assert.Equal(ImageState.Committed, ManifestCodec.Load(Path.Combine(root, "first")).State);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
