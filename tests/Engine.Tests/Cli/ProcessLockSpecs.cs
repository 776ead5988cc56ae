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

    public void Dispose()
    {
        _sim.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
