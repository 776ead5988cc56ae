using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>Bad input on the command line: one line on stderr, exit 2, nothing on stdout, no .NET type names.</summary>
public sealed class BadCommandLineSpecs
{
    [Theory]
    [InlineData("spawn", "--driver", "sim:/tmp/x.sock", "--workload", "tiny", "--seed", "abc")]
    [InlineData("run", "--driver", "sim:/tmp/x.sock", "--pid", "-4", "--steps", "1")]
    [InlineData("checkpoint", "--pid", "1")]
    [InlineData("restore", "--driver", "sim:/tmp/x.sock", "--images")]
    [InlineData("no-such-command")]
    [InlineData("verify", "a", "b")]
    [InlineData("spawn", "--driver", "sim:/tmp/x.sock", "--workload", "tiny", "--seed", "1", "--size", "0")]
    [InlineData("spawn", "--driver", "sim:/tmp/x.sock", "--workload", "tiny", "--seed", "1", "--size", "4611686018427387904")]
    [InlineData("spawn", "--driver", "sim:/tmp/x.sock", "--workload", "many-bos", "--seed", "1", "--bos", "0")]
    public void Bad_input_is_one_line_on_stderr_and_exit_2(params string[] args)
    {
        var r = GpuckptProcess.Run(args);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Stdout);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("gpuckpt: ", line);
        Assert.DoesNotContain("System.", line);
    }

    [Theory]
    [InlineData("--workload", "tiny", "--size", "0")]
    [InlineData("--workload", "tiny", "--size", "4611686018427387904")]
    [InlineData("--workload", "many-bos", "--bos", "0")]
    public void An_absurd_size_is_refused_and_nothing_is_spawned_on_a_live_simulator(params string[] args)
    {
        using var sim = new TestSimulator();
        var before = sim.Client.Spawn(WorkloadRequest.Named("tiny", 1));

        var r = GpuckptProcess.Run(["spawn", "--driver", $"sim:{sim.SocketPath}", "--seed", "1", .. args]);

        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.StartsWith("gpuckpt: ", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        // Pids are handed out in order: the next one right after the first means nothing was spawned in between.
        Assert.Equal(before + 1, sim.Client.Spawn(WorkloadRequest.Named("tiny", 2)));
    }

    [Fact]
    public async Task A_simulator_that_cannot_listen_names_its_socket_and_removes_its_memory_directory()
    {
        var socket = $"/nonexistent-{Guid.NewGuid():N}/sim.sock";
        using var sim = GpuckptProcess.Start(["simulator", "--socket", socket]);
        var r = await sim.WaitForExitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"gpuckpt: cannot listen on {socket}: ", line);
        Assert.Empty(Directory.EnumerateDirectories("/dev/shm", $"gpuckpt-sim-{sim.ProcessId}-*"));
    }

    [TmpfsFact]
    public async Task A_checkpoint_onto_a_full_file_system_ends_failed_with_no_stray_temporary_manifest()
    {
        using var disk = SmallTmpfs.Mount(8 << 20);
        using var sim = new TestSimulator();
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", 9, sizeBytes: 24UL << 20));
        var images = Path.Combine(disk.Path, "img");
        var state = Path.Combine(Path.GetTempPath(), $"gpuckpt-state-{Guid.NewGuid():N}");
        var r = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", pid.ToString(), "--images", images,
            "--leave-running", "--state-dir", state], timeout: TimeSpan.FromMinutes(3));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("No space left on device", r.Stderr);
        var manifest = ManifestCodec.Load(images);
        Assert.Equal(ImageState.Failed, manifest.State);
        Assert.False(File.Exists(Path.Combine(images, "manifest.json.tmp")), "a stray manifest.json.tmp");
        var after = sim.Client.State(pid);
        Assert.True(after.Running, "the process was left paused");
        Assert.Equal(1, after.Counters.Unpause);
        Directory.Delete(state, recursive: true);
    }
}
