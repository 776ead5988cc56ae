using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Emulation;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>
/// A whole GPU process dumped by real CRIU 4.2 with the bridge under the emulated kernel: <c>gpuckpt checkpoint --criu</c>
/// of a stand-in (it holds the emulated /dev/kfd, a character device CRIU hands to DUMP_EXT_FILE, and render nodes;
/// the simulator plays its GPU). CRIU runs under the emulator's filter, so the bridge's KFD ops from CRIU's thread reach
/// the emulated KFD, which serves them only to the stand-in's tracer. The dump completes: one PROCESS_INFO, CHECKPOINT
/// and UNPAUSE, an image that verifies, GPU pages equal to the simulator path's. A failure in CHECKPOINT_DEVICES (the
/// kernel refuses CHECKPOINT) or in DUMP_EXT_FILE (an injected fault) unpauses the GPU exactly once and leaves no image
/// that verifies.
/// </summary>
[Trait("Tier", "Full")]
public sealed class CriuEmulatedDumpSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-emudump-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public void A_criu_dump_of_a_gpu_process_under_the_emulated_kernel_completes_with_an_image_that_verifies_and_the_simulator_paths_pages()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        using var sim = new TestSimulator(gpus: 2, idSeed: 17);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 24UL << 20));
        sim.Client.Run(pid, 3);
        var images = Dir("criu");
        var run = Checkpoint(sim, pid, images, [], json: true);
        Assert.True(run.ExitCode == 0, $"{because}: checkpoint --criu exited {run.ExitCode}: {run.Stderr}{CriuLog(images)}");
        using (var json = JsonDocument.Parse(run.Stdout))
        {
            var root = json.RootElement;
            Assert.True(root.GetProperty("gpu").GetBoolean());
            var hooks = root.GetProperty("hooks").EnumerateArray().Select(h => h.GetString()).ToList();
            // CRIU handed the emulated /dev/kfd (a device it does not know) to the bridge, after CHECKPOINT_DEVICES saved the GPU.
            Assert.True(hooks.IndexOf("CheckpointDevices") >= 0 && hooks.IndexOf("CheckpointDevices") < hooks.IndexOf("DumpExtFile"), string.Join(",", hooks));
        }
        var counters = sim.Client.State(pid).Counters;
        Assert.Equal((1, 1, 1), (counters.ProcessInfo, counters.Checkpoint, counters.Unpause));
        Assert.True(ProcessManifest.Verify(images).Ok, ProcessManifest.Verify(images).Describe());
        Assert.Equal(ImageState.Committed, ManifestCodec.Load(BridgeSession.GpuImageDir(images)).State);
        var verify = GpuckptProcess.Run("verify", images);
        Assert.True(verify.ExitCode == 0, $"{because}: verify: {verify}");
        Assert.True(File.Exists(Path.Combine(images, "inventory.img")) && Directory.GetFiles(images, "pages-*.img").Length > 0, "CRIU's own image is there");

        AssertPagesEqualTheSimulatorPaths(sim, pid, BridgeSession.GpuImageDir(images), because);
        sim.Client.Run(pid, 1); // the GPU runs on after the dump
    }

    [Fact]
    public void A_kernel_refusing_checkpoint_in_checkpoint_devices_fails_the_dump_with_the_gpu_unpaused_once_and_no_image_that_verifies()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var sim = new TestSimulator(gpus: 2, idSeed: 17);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 8UL << 20));
        sim.Client.Run(pid, 2);
        sim.Client.InjectFault(new SimFault(pid, SimOp.Checkpoint, Errno.EIO));
        var images = Dir("criu");
        var run = Checkpoint(sim, pid, images, [], json: false);
        AssertFailedAndUnpausedOnce(sim, pid, images, run, $"seed {seed}");
        Assert.Contains("GPU checkpoint of pid", run.Stderr);
        Assert.Contains("EIO", run.Stderr);
    }

    [Fact]
    public void A_fault_in_dump_ext_file_after_the_gpu_was_saved_fails_the_dump_with_the_gpu_unpaused_once_and_its_image_marked_failed()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var sim = new TestSimulator(gpus: 2, idSeed: 17);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 8UL << 20));
        sim.Client.Run(pid, 2);
        var images = Dir("criu");
        var run = Checkpoint(sim, pid, images, ["GPUCKPT_BRIDGE_FAULT=DUMP_EXT_FILE"], json: false);
        AssertFailedAndUnpausedOnce(sim, pid, images, run, $"seed {seed}");
        Assert.Contains("GPU state of pid", run.Stderr); // CHECKPOINT_DEVICES had saved it
        Assert.True(File.ReadAllText(Path.Combine(images, "criu-dump.log")).Contains("DUMP_EXT_FILE: injected fault", StringComparison.Ordinal),
            $"no injected fault in DUMP_EXT_FILE: {run.Stderr}{CriuLog(images)}");
        var gpu = BridgeSession.GpuImageDir(images);
        Assert.Equal(ImageState.Failed, ManifestCodec.Load(gpu).State);
        Assert.Contains("marked failed", run.Stderr);
    }

    /// <summary>checkpoint --criu of the stand-in playing <paramref name="simPid"/>, under the emulated kernel, with <paramref name="env"/> for it and its criu alone.</summary>
    private EmulatedRun Checkpoint(TestSimulator sim, uint simPid, string images, IReadOnlyList<string> env, bool json)
    {
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("train", simPid)], KfdCharacterDevice = true });
        string[] args = ["checkpoint", "--criu", "--pid", "@train", "--images", images, "--leave-running", "--shell-job", "--state-dir", Dir("state-criu")];
        return kernel.Run(["env", .. env, .. KfdEmulationSpecs.Gpuckpt(json ? [.. args, "--json"] : args)], Timeout);
    }

    private static void AssertFailedAndUnpausedOnce(TestSimulator sim, uint pid, string images, EmulatedRun run, string because)
    {
        Assert.True(run.ExitCode == 1, $"{because}: checkpoint --criu exited {run.ExitCode}: {run.Stderr}{CriuLog(images)}");
        var last = run.Stderr.Trim().Split('\n')[^1];
        Assert.True(last.StartsWith("gpuckpt: criu dump of pid ", StringComparison.Ordinal) && last.Contains("Error (criu/", StringComparison.Ordinal),
            $"the last line of stderr is not CRIU's error: {run.Stderr}{CriuLog(images)}");
        var counters = sim.Client.State(pid).Counters;
        Assert.True((counters.ProcessInfo, counters.Unpause) == (1, 1), $"{because}: PROCESS_INFO {counters.ProcessInfo}, CHECKPOINT {counters.Checkpoint}, UNPAUSE {counters.Unpause}");
        Assert.False(File.Exists(Path.Combine(images, ProcessManifest.FileName)));
        Assert.False(ImageVerifier.Verify(BridgeSession.GpuImageDir(images)).Ok);
        var verify = GpuckptProcess.Run("verify", images);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("the whole-process checkpoint did not complete", verify.Stderr);
        sim.Client.Run(pid, 1); // the GPU runs on
    }

    /// <summary>CRIU's errors and warnings and the end of its dump log, for a failure's message.</summary>
    private static string CriuLog(string images)
    {
        var path = Path.Combine(images, "criu-dump.log");
        if (!File.Exists(path)) return $"\n(no {path})";
        var lines = File.ReadAllLines(path);
        var notable = lines.Where(l => l.Contains("Error (", StringComparison.Ordinal) || l.Contains("Warn  (", StringComparison.Ordinal));
        return $"\n{path}, errors and warnings:\n{string.Join('\n', notable.Take(30))}\nits last lines:\n{string.Join('\n', lines.TakeLast(15))}";
    }

    private void AssertPagesEqualTheSimulatorPaths(TestSimulator sim, uint pid, string gpu, string because)
    {
        var run = GpuckptProcess.Run("checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Dir("sim"), "--leave-running",
            "--json", "--state-dir", Dir("state-sim"));
        Assert.True(run.ExitCode == 0, $"{because}: checkpoint on the simulator path: {run}");
        var pages = Directory.GetFiles(Dir("sim")).Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("pages-", StringComparison.Ordinal)).Order().ToList();
        Assert.NotEmpty(pages);
        Assert.Equal(pages, Directory.GetFiles(gpu).Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("pages-", StringComparison.Ordinal)).Order().ToList());
        foreach (var name in pages)
            Assert.True(File.ReadAllBytes(Path.Combine(Dir("sim"), name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(gpu, name))),
                $"{because}: {name} differs between the CRIU bridge and the simulator path");
    }
}
