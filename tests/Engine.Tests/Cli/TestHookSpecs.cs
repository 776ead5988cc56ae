using System.Diagnostics;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Cli;

/// <summary>
/// Crash points are a test build's: gpuckpt beside Gpuckpt.TestHooks.dll (a test project's output) dies where
/// GPUCKPT_CRASH_AT says, and the published gpuckpt, which does not contain it, ignores the variable and completes; the
/// published simulator refuses the fault op and the published bridge is the one without fault injection.
/// </summary>
public sealed class TestHookSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-hooks-").FullName;
    private readonly TestSimulator _sim = new(gpus: 1);

    [Fact]
    public async Task The_test_build_dies_at_the_crash_point_it_is_given()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("tiny", 5));

        var r = await Checkpoint(TestHookLoaderDll(), pid, "test-build");

        Assert.True(r.Killed, r.ToString());
    }

    [Fact]
    [Trait("Tier", "Full")]
    public async Task The_published_gpuckpt_has_no_test_hooks_completes_a_checkpoint_with_GPUCKPT_CRASH_AT_set_and_its_simulator_refuses_faults()
    {
        var published = Path.Combine(_dir, "published");
        var publish = Process.Start(new ProcessStartInfo("dotnet",
            ["publish", Path.Combine(RepositoryRoot(), "src", "Host"), "-c", "Release", "-o", published, "-p:PublishReadyToRun=false", "-nologo", "-v", "q"])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = publish.StandardOutput.ReadToEndAsync();
        var errors = publish.StandardError.ReadToEndAsync();
        await publish.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(8));
        Assert.True(publish.ExitCode == 0, $"dotnet publish exited {publish.ExitCode}: {await output}{await errors}");
        Assert.True(File.Exists(Path.Combine(published, "gpuckpt.dll")), $"no gpuckpt.dll in {published}");
        Assert.False(File.Exists(Path.Combine(published, Host.TestHookLoader.AssemblyFile)), $"{Host.TestHookLoader.AssemblyFile} was published");
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("tiny", 6));

        var r = await Checkpoint(Path.Combine(published, "gpuckpt.dll"), pid, "published");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(ImageVerifier.Verify(Path.Combine(_dir, "published-image")).Ok);
        Assert.False(_sim.Client.State(pid).Paused);

        Assert.False(Directory.Exists(Path.Combine(published, "criu-faults")), "the bridge's fault variant was published");
        var bridge = Path.Combine(published, "criu", "gpuckpt_bridge.so");
        if (File.Exists(bridge))
            Assert.False(File.ReadAllBytes(bridge).AsSpan().IndexOf("GPUCKPT_BRIDGE_FAULT"u8) >= 0, $"{bridge} reads GPUCKPT_BRIDGE_FAULT");
        using var sim = SimulatorProcess.Start(Path.Combine(_dir, "published-sim.sock"), gpus: 1, program: Path.Combine(published, "gpuckpt.dll"));
        using var client = SimulatorClient.Connect(sim.SocketPath);
        var refused = Assert.ThrowsAny<Exception>(() => client.InjectFault(new SimFault(0, SimOp.Checkpoint, 5)));
        Assert.Contains("fault injection is a test-build feature", refused.Message);
    }

    [Fact]
    public void The_test_build_simulator_fails_the_call_a_fault_names()
    {
        var pid = _sim.Client.Spawn(WorkloadRequest.Named("tiny", 7));
        _sim.Client.InjectFault(new SimFault(pid, SimOp.Checkpoint, 5));
        var r = GpuckptProcess.Run("checkpoint", "--driver", $"sim:{_sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, "fault-image"),
            "--state-dir", Path.Combine(_dir, "fault-state"), "--leave-running");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("EIO", r.Stderr);
        Assert.False(_sim.Client.State(pid).Paused);
    }

    private Task<GpuckptProcess.Result> Checkpoint(string program, uint pid, string name) =>
        GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{_sim.SocketPath}", "--pid", $"{pid}", "--images", Path.Combine(_dir, name + "-image"),
                "--state-dir", Path.Combine(_dir, name + "-state"), "--leave-running"],
            new Dictionary<string, string> { ["GPUCKPT_CRASH_AT"] = "captured" }, Timeout, program);

    private static string TestHookLoaderDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll");
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, Host.TestHookLoader.AssemblyFile)), "the test build has no hooks beside gpuckpt.dll");
        return dll;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Engine.sln above {AppContext.BaseDirectory}");
    }

    public void Dispose()
    {
        _sim.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
