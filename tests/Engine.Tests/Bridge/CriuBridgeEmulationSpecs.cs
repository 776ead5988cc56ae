using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Emulation;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>
/// <c>gpuckpt checkpoint --criu</c> of a GPU process under the emulated kernel, with real CRIU and the bridge: the KFD
/// ops are issued from CRIU's thread (the task's tracer, as the emulated KFD requires), the render files and contents are
/// read by the engine's journalled job. CRIU then fails after the device hooks, at its own injected fault (CRIU_FAULT=3,
/// the task's memory pages). The spec sees the failure path whole: the GPU saved byte for byte as the simulator path
/// saves it, then unpaused exactly once, its image marked failed, no whole-process manifest, one line for the user.
/// </summary>
[Trait("Tier", "Full")]
public sealed class CriuBridgeEmulationSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-emu-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public void A_criu_dump_failing_after_the_bridge_saved_the_gpu_unpauses_it_once_and_leaves_no_image_that_verifies()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        using var sim = new TestSimulator(gpus: 2, idSeed: 17);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 24UL << 20));
        sim.Client.Run(pid, 3);
        var images = Dir("criu");
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("train", pid)] });
        // The fault reaches this command's criu alone (through env), not the criu of specs running meanwhile.
        var run = kernel.Run(["env", "CRIU_FAULT=3", .. KfdEmulationSpecs.Gpuckpt("checkpoint", "--criu", "--pid", "@train", "--images", images, "--leave-running",
            "--shell-job", "--state-dir", Dir("state-criu"))], Timeout);
        Assert.True(run.ExitCode == 1, $"{because}: checkpoint --criu exited {run.ExitCode}: {run.Stderr}");
        var lines = run.Stderr.Trim().Split('\n');
        Assert.StartsWith("gpuckpt: criu dump of pid ", lines[^1]);
        Assert.Contains("Error (criu/", lines[^1]); // CRIU's cause
        Assert.Contains("GPU unpaused at exit", lines[^1]);
        Assert.Contains("marked failed", lines[^1]);
        Assert.Contains("GPU state of pid", run.Stderr); // the bridge's job did save it first
        // One PROCESS_INFO, one CHECKPOINT (both from CRIU's thread), one UNPAUSE: the GPU runs again, the pause balanced.
        var counters = sim.Client.State(pid).Counters;
        Assert.Equal((1, 1, 1), (counters.ProcessInfo, counters.Checkpoint, counters.Unpause));
        var gpu = BridgeSession.GpuImageDir(images);
        Assert.Equal(ImageState.Failed, ManifestCodec.Load(gpu).State);
        Assert.False(ImageVerifier.Verify(gpu).Ok);
        Assert.False(File.Exists(Path.Combine(images, ProcessManifest.FileName)));
        var verify = GpuckptProcess.Run("verify", images);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("the whole-process checkpoint did not complete", verify.Stderr);

        // What the bridge's job wrote before CRIU failed is what the simulator path saves.
        var sim2 = GpuckptProcess.Run("checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Dir("sim"), "--leave-running",
            "--json", "--state-dir", Dir("state-sim"));
        Assert.True(sim2.ExitCode == 0, $"{because}: checkpoint on the simulator path: {sim2}");
        var pages = Directory.GetFiles(Dir("sim")).Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("pages-", StringComparison.Ordinal)).Order().ToList();
        Assert.NotEmpty(pages);
        foreach (var name in pages)
            Assert.True(File.ReadAllBytes(Path.Combine(Dir("sim"), name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(gpu, name))),
                $"{because}: {name} differs between the CRIU bridge and the simulator path");
    }
}
