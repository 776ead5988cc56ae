using Gpuckpt.Emulator;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// The CPU side is frozen while the GPU is captured: every thread of the target is in a ptrace stop from PROCESS_INFO
/// until UNPAUSE, so none writes a BO or submits work during the copy, and every one runs again, untraced, afterwards.
/// </summary>
[Trait("Tier", "Full")]
public sealed class KfdFreezeSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-freeze-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Every_thread_of_the_target_is_stopped_through_the_capture_and_released_once_after()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var sim = new TestSimulator(gpus: 2, idSeed: 31);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", seed));
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("job", pid)], ThreadedTargets = true });
        var runs = kernel.RunAll([
            KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@job", "--images", Path.Combine(_dir.FullName, "image"), "--leave-running",
                "--json", "--state-dir", Path.Combine(_dir.FullName, "state")),
            ["sh", "-c", "grep -h -e '^State:' -e '^TracerPid:' /proc/$0/task/*/status", "@job"],
        ], Timeout);
        Assert.True(runs[0].ExitCode == 0, $"seed {seed}: checkpoint --driver kfd exited {runs[0].ExitCode}: {runs[0].Stderr}");

        var seen = kernel.ThreadsAtCriuOps;
        Assert.Equal([KfdCriuOp.ProcessInfo, KfdCriuOp.Checkpoint, KfdCriuOp.Unpause], seen.Select(s => s.Op));
        Assert.All(seen, s => Assert.True(s.Threads == "ttt", $"seed {seed}: at {s.Op} the target's threads were '{s.Threads}', not all in a ptrace stop"));

        // Afterwards: the three threads run on (none stopped), nobody traces them.
        Assert.True(runs[1].ExitCode == 0, runs[1].Stderr);
        var lines = runs[1].Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Count(l => l.StartsWith("State:", StringComparison.Ordinal)));
        Assert.All(lines.Where(l => l.StartsWith("State:", StringComparison.Ordinal)), l => Assert.DoesNotContain("stop", l));
        Assert.All(lines.Where(l => l.StartsWith("TracerPid:", StringComparison.Ordinal)), l => Assert.Equal("TracerPid:\t0", l));
    }
}
