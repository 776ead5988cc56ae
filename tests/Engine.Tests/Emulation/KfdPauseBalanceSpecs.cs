using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// The kernel counts evictions (kfd_process_evict_queues): each PROCESS_INFO adds one, each UNPAUSE takes one away and
/// needs the queues_paused flag that only PROCESS_INFO sets. A <c>--driver kfd</c> checkpointer killed after the pause
/// and resumed must leave the count at zero, with the image restoring to the same continuation.
/// </summary>
[Trait("Tier", "Full")]
public sealed class KfdPauseBalanceSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-pause-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Theory]
    // Killed once PROCESS_INFO's answer is journalled: the resumed job pauses nothing again and unpauses once.
    [InlineData("paused", 1)]
    // Killed between PROCESS_INFO and its journal entry: the resumed job undoes the unknown pause, then pauses afresh.
    [InlineData("pause-issued", 2)]
    public async Task A_checkpointer_killed_after_the_pause_is_resumed_with_every_pause_balanced_once_and_its_image_restores_equal(string point, int pauses)
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}, killed at {point}";
        using var sim = new TestSimulator(gpus: 2, idSeed: 23);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 24UL << 20));
        sim.Client.Run(pid, 3);
        var job = $"ckpt-{Guid.NewGuid():N}"[..17];
        var state = Dir("state");

        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("train", pid)] });
        var runs = kernel.RunAll([
            ["env", $"GPUCKPT_CRASH_AT={point}", .. KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@train", "--images", Dir("kfd"),
                "--leave-running", "--json", "--job", job, "--state-dir", state)],
            KfdEmulationSpecs.Gpuckpt("resume", job, "--json", "--state-dir", state),
        ], Timeout);
        Assert.True(runs[0].ExitCode == 128 + 9, $"{because}: the checkpointer was not killed (exit {runs[0].ExitCode}): {runs[0].Stderr}");
        Assert.True(runs[1].ExitCode == 0, $"{because}: resume exited {runs[1].ExitCode}: {runs[1].Stderr}");
        Assert.Equal(job, JsonDocument.Parse(runs[1].Stdout).RootElement.GetProperty("job").GetString());

        var after = sim.Client.State(pid);
        Assert.True(after.Counters.Evictions == 0 && !after.Paused,
            $"{because}: {after.Counters.ProcessInfo} PROCESS_INFO, {after.Counters.Unpause} UNPAUSE left {after.Counters.Evictions} evictions: the queues stay evicted");
        Assert.Equal((pauses, pauses), (after.Counters.ProcessInfo, after.Counters.Unpause));
        Assert.Equal(1, after.Counters.Checkpoint);

        // The image restores (simulator path) and continues exactly as the process it was taken from.
        var restore = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("kfd"), "--json", "--state-dir", Dir("state-restore"), "--trust-key", Path.Combine(state, "image.key")],
            timeout: Timeout);
        Assert.True(restore.ExitCode == 0, $"{because}: restore of the resumed kfd image exited {restore.ExitCode}: {restore.Stderr}");
        var restored = JsonDocument.Parse(restore.Stdout).RootElement.GetProperty("pid").GetUInt32();
        Assert.Equal(sim.Client.Run(pid, 4), sim.Client.Run(restored, 4));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
    }
}
