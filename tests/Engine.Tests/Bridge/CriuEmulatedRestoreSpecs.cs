using Gpuckpt.Emulator;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Engine.Tests.Criu;
using Gpuckpt.Engine.Tests.Emulation;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>
/// A whole GPU process dumped and restored by real CRIU with the bridge under the emulated kernel: the stand-in is
/// dumped by <c>gpuckpt checkpoint --criu</c>, ended, and brought back by <c>gpuckpt restore --criu</c> run under the
/// emulator's filter, which the restored task inherits from CRIU, so that its KFD RESTORE reaches the emulated KFD.
/// </summary>
[Trait("Tier", "Full")]
public sealed class CriuEmulatedRestoreSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-criu-emurestore-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public void A_gpu_process_dumped_and_restored_by_criu_runs_again_under_its_pid_with_its_pages_and_continues_as_its_uninterrupted_twin()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        using var sim = new TestSimulator(gpus: 2, idSeed: 17);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 8UL << 20));
        var twin = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 8UL << 20));
        Assert.Equal(sim.Client.Run(twin, 3), sim.Client.Run(pid, 3));
        var images = Dir("criu");

        int standIn;
        using (var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("train", pid)], KfdCharacterDevice = true }))
        {
            var dump = kernel.Run(KfdEmulationSpecs.Gpuckpt("checkpoint", "--criu", "--pid", "@train", "--images", images, "--leave-running", "--shell-job",
                "--state-dir", Dir("state-criu")), Timeout);
            Assert.True(dump.ExitCode == 0, $"{because}: checkpoint --criu exited {dump.ExitCode}: {dump.Stderr}");
            standIn = kernel.PidOf("train");
        }
        // The stand-in ended with its kernel; CRIU restores it under its own pid, which must be free.
        WaitGone(standIn);

        using var restoring = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { KfdCharacterDevice = true });
        using var host = restoring.Serve(Timeout);
        var output = Dir("restore.out");
        var rc = host.Run(output, [.. KfdEmulationSpecs.Gpuckpt("restore", "--criu", "--images", images, "--shell-job", "--state-dir", Dir("state-restore"),
            "--trust-key", Path.Combine(Dir("state-criu"), "image.key"))]);
        Assert.True(rc == 0, $"{because}: restore --criu exited {rc}: {ReadIfAny(output)}{CriuLog(images)}");

        // The same pid runs again; its RESTORE came from the task itself, its RESUME once, by its pid, from CRIU's process.
        Assert.True(Running(standIn), $"pid {standIn} is not running after the restore (gone, or a zombie)");
        var restore = Assert.Single(restoring.Restores);
        Assert.Equal((standIn, 0), (restore.Process, restore.Errno));
        Assert.True(Directory.Exists($"/proc/{standIn}/task/{restore.Tid}"), $"RESTORE came from {restore.Tid}, not a thread of {standIn}");
        var resume = Assert.Single(restoring.Resumes);
        Assert.Equal((standIn, 0), (resume.Pid, resume.Errno));
        Assert.NotEqual(standIn, resume.Tid);
        Assert.Equal(1, sim.Client.State(restore.SimPid).Counters.Resume);

        // The restored GPU holds the pages that were dumped, and runs on as the uninterrupted twin does.
        AssertPagesEqualTheDumped(sim, restore.SimPid, BridgeSession.GpuImageDir(images), because);
        Assert.Equal(sim.Client.Run(twin, 4), sim.Client.Run(restore.SimPid, 4));
        Assert.Equal(sim.Client.State(twin).Digest, sim.Client.State(restore.SimPid).Digest);
        host.Kill(standIn);
    }

    [Fact]
    public void A_vram_bo_the_cpu_may_not_map_is_dumped_and_restored_through_the_copy_engine_and_the_process_continues_as_its_twin()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        using var sim = new TestSimulator(gpus: 1, idSeed: 23);
        var spec = new WorkloadSpec
        {
            Gpus = 1,
            KfdBos = [new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 3 << 20, Public = false }, new KfdBoSpec { Gpu = 0, Domain = "gtt", Size = 64 << 10 }],
            RenderBos = [],
        }.ToJson();
        var pid = sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: spec));
        var twin = sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: spec));
        Assert.Equal(sim.Client.Run(twin, 3), sim.Client.Run(pid, 3));
        var images = Dir("criu");

        int standIn;
        using (var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("train", pid)], KfdCharacterDevice = true }))
        {
            var dump = kernel.Run(KfdEmulationSpecs.Gpuckpt("checkpoint", "--criu", "--pid", "@train", "--images", images, "--leave-running", "--shell-job",
                "--state-dir", Dir("state-criu")), Timeout);
            Assert.True(dump.ExitCode == 0, $"{because}: checkpoint --criu exited {dump.ExitCode}: {dump.Stderr}");
            Assert.True(dump.Requests.GetValueOrDefault(DrmIoctls.AmdgpuCs) >= 2, $"{because}: the dump submitted {dump.Requests.GetValueOrDefault(DrmIoctls.AmdgpuCs)} SDMA copies for 3 MiB");
            standIn = kernel.PidOf("train");
        }
        WaitGone(standIn);

        using var restoring = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { KfdCharacterDevice = true });
        using var host = restoring.Serve(Timeout);
        var output = Dir("restore.out");
        var rc = host.Run(output, [.. KfdEmulationSpecs.Gpuckpt("restore", "--criu", "--images", images, "--shell-job", "--state-dir", Dir("state-restore"),
            "--trust-key", Path.Combine(Dir("state-criu"), "image.key"))]);
        Assert.True(rc == 0, $"{because}: restore --criu exited {rc}: {ReadIfAny(output)}{CriuLog(images)}");

        // The restore wrote the BO the CPU may not map with the copy engine (an mmap of it would have been refused).
        Assert.True(restoring.Requests.GetValueOrDefault(DrmIoctls.AmdgpuCs) >= 2, $"{because}: the restore submitted {restoring.Requests.GetValueOrDefault(DrmIoctls.AmdgpuCs)} SDMA copies for 3 MiB");
        Assert.All(restoring.RenderMmaps, m => Assert.Equal(0, m.Errno));
        var restore = Assert.Single(restoring.Restores);
        AssertPagesEqualTheDumped(sim, restore.SimPid, BridgeSession.GpuImageDir(images), because);
        Assert.Equal(sim.Client.Run(twin, 4), sim.Client.Run(restore.SimPid, 4));
        Assert.Equal(sim.Client.State(twin).Digest, sim.Client.State(restore.SimPid).Digest);
        host.Kill(standIn);
    }

    /// <summary>Whether the process exists and is no zombie (/proc/PID/stat: the state follows the name's parenthesis).</summary>
    private static bool Running(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        var text = File.ReadAllText(stat);
        return text[text.LastIndexOf(')') + 2] is not ('Z' or 'X');
    }

    private static void WaitGone(int pid) =>
        Assert.True(SpinWait.SpinUntil(() => !Directory.Exists($"/proc/{pid}"), Timeout), $"pid {pid} did not end in {Timeout}");

    private static string ReadIfAny(string path) => File.Exists(path) ? File.ReadAllText(path) : $"(no {path})";

    /// <summary>CRIU's errors and warnings and the end of its restore log, for a failure's message.</summary>
    private static string CriuLog(string images)
    {
        var path = Directory.GetFiles(images, "criu-restore*.log").FirstOrDefault();
        if (path is null) return $"\n(no restore log in {images})";
        var lines = File.ReadAllLines(path);
        var notable = lines.Where(l => l.Contains("Error (", StringComparison.Ordinal) || l.Contains("Warn  (", StringComparison.Ordinal));
        return $"\n{path}, errors and warnings:\n{string.Join('\n', notable.Take(30))}\nits last lines:\n{string.Join('\n', lines.TakeLast(15))}";
    }

    /// <summary>The restored simulated process, checkpointed on the simulator path, holds the GPU pages the dump saved.</summary>
    private void AssertPagesEqualTheDumped(TestSimulator sim, uint restored, string gpu, string because)
    {
        var run = GpuckptProcess.Run("checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{restored}", "--images", Dir("sim"), "--leave-running",
            "--json", "--state-dir", Dir("state-sim"));
        Assert.True(run.ExitCode == 0, $"{because}: checkpoint of the restored process on the simulator path: {run}");
        var pages = Directory.GetFiles(gpu).Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("pages-", StringComparison.Ordinal)).Order().ToList();
        Assert.NotEmpty(pages);
        Assert.Equal(pages, Directory.GetFiles(Dir("sim")).Select(Path.GetFileName).OfType<string>().Where(n => n.Contains("pages-", StringComparison.Ordinal)).Order().ToList());
        foreach (var name in pages)
            Assert.True(File.ReadAllBytes(Path.Combine(Dir("sim"), name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(gpu, name))),
                $"{because}: {name} of the restored process differs from the dumped one");
    }
}
