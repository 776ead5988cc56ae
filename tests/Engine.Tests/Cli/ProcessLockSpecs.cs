using System.Text.Json;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// Two `gpuckpt checkpoint` processes of one pid started at the same moment: one checkpoints it, the other is refused in
/// one line naming the job and the gpuckpt process that hold the pid, with no journal wording, and the process was
/// paused once.
/// </summary>
public sealed class ProcessLockSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-lock-").FullName;
    private readonly TestSimulator _sim = new(gpus: 2);

    [Fact]
    public async Task Two_checkpoints_of_one_pid_started_together_one_succeeds_and_the_other_names_the_job_holding_the_pid()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", 17, sizeBytes: 1UL << 20));
        _sim.Client.Run(pid, 1);
        // 8 s a MiB: the first to take the pid still holds it when the other asks.
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 8_000_000);
        var state = Path.Combine(_dir, "state");
        GpuckptProcess Checkpoint(string name) => GpuckptProcess.Start(
            ["checkpoint", "--driver", $"sim:{_sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, name), "--state-dir", state, "--leave-running", "--json"]);
        using var a = Checkpoint("a");
        using var b = Checkpoint("b");

        var (exitA, exitB) = (a.WaitForExitAsync(Timeout), b.WaitForExitAsync(Timeout));
        var first = await Task.WhenAny(exitA, exitB);
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 0);
        var loser = await first;
        var winner = first == exitA ? b : a;
        var won = await (first == exitA ? exitB : exitA);

        Assert.True(won.ExitCode == 0, won.ToString());
        Assert.True(loser.ExitCode == 1, loser.ToString());
        var job = JsonDocument.Parse(won.Stdout).RootElement.GetProperty("job_id").GetString();
        var line = Assert.Single(loser.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"gpuckpt: pid {pid} is being checkpointed by job {job} (gpuckpt pid {winner.ProcessId})", line);
        foreach (var text in new[] { won.Stdout, won.Stderr, loser.Stdout, loser.Stderr })
        {
            Assert.DoesNotContain("SQLite", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("constraint", text, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(1, _sim.Client.State(pid).Counters.ProcessInfo);
        Assert.Equal(1, _sim.Client.State(pid).Counters.Unpause);
    }

    [Fact]
    public async Task A_resumed_checkpoint_holds_its_pid_so_a_checkpoint_of_that_pid_started_meanwhile_is_refused_naming_the_resume()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("train", 19, sizeBytes: 2UL << 20));
        _sim.Client.Run(pid, 1);
        var state = Path.Combine(_dir, "state");
        const string job = "ckpt-lockresume";
        var env = new Dictionary<string, string> { ["GPUCKPT_CHUNK_SIZE"] = "256KiB" };
        var killed = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{_sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, "resumed"),
            "--job", job, "--state-dir", state, "--leave-running"], new Dictionary<string, string>(env) { ["GPUCKPT_CRASH_AT"] = "chunk#2" }, Timeout);
        Assert.True(killed.Killed, killed.ToString());
        // 8 s a MiB: the resume still holds the pid when the other checkpoint asks.
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 8_000_000);
        using var resume = GpuckptProcess.Start(["resume", job, "--state-dir", state, "--json"], env);
        var holder = Engine.Checkpoint.ProcessLock.HolderFile($"sim:{_sim.SocketPath}", pid);
        // The killed checkpoint left its line behind: the resume's own names the resume's process.
        await Eventually(() => Read(holder).Trim() == $"{job} {resume.ProcessId}", "the resume never took the pid's lock");

        var other = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{_sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, "other"),
            "--state-dir", state, "--leave-running"], env, Timeout);
        foreach (var gpu in _sim.Client.Topology()) _sim.Client.SetCopyDelay(gpu.GpuId, 0);
        var resumed = await resume.WaitForExitAsync(Timeout);

        Assert.True(other.ExitCode == 1, other.ToString());
        Assert.Equal($"gpuckpt: pid {pid} is being checkpointed by job {job} (gpuckpt pid {resume.ProcessId})", Assert.Single(other.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(Path.Combine(_dir, "other")), "the refused checkpoint wrote an image");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.True(Engine.Images.ImageVerifier.Verify(Path.Combine(_dir, "resumed")).Ok);
        Assert.False(_sim.Client.State(pid).Paused);
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static async Task Eventually(Func<bool> condition, string why)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, why);
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        _sim.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
