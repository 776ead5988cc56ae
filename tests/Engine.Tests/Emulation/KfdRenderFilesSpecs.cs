using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// Two render files of one GPU through <c>--driver kfd</c>: the stand-in holds two open files of the node (and a dup of
/// each), the checkpoint takes each distinct file over and writes one render image per file, and the image restores on
/// the simulator path into two files whose workload continues as the uninterrupted one.
/// </summary>
[Trait("Tier", "Full")]
public sealed class KfdRenderFilesSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-files-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task Two_render_files_of_one_gpu_checkpoint_through_the_kernel_one_image_each_and_restore_to_the_same_continuation()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        using var sim = new TestSimulator(gpus: 1, idSeed: 43);
        var pid = sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: SeveralRenderFilesSpecs.TwoFiles().ToJson()));
        sim.Client.Run(pid, 2);

        using (var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("job", pid)], DupRenderFds = true }))
        {
            var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@job", "--images", Dir("kfd"), "--leave-running",
                "--json", "--state-dir", Dir("state-kfd")), Timeout);
            Assert.True(run.ExitCode == 0, $"{because}: checkpoint --driver kfd exited {run.ExitCode}: {run.Stderr}");
        }
        var files = SeveralRenderFilesSpecs.RenderFilesOf(Dir("kfd"));
        Assert.Equal(2, files.Count);
        Assert.Equal(files[0].GpuId, files[1].GpuId);
        Assert.Equal([1u, 2u], files[0].Handles);
        Assert.Equal([1u, 2u, 3u, 4u], files[1].Handles);

        var restore = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("kfd"), "--json", "--state-dir", Dir("state-restore"), "--trust-key", Path.Combine(Dir("state-kfd"), "image.key")],
            timeout: Timeout);
        Assert.True(restore.ExitCode == 0, $"{because}: restore of the kfd image exited {restore.ExitCode}: {restore.Stderr}");
        var restored = JsonDocument.Parse(restore.Stdout).RootElement.GetProperty("pid").GetUInt32();
        var minor = sim.Server.Topology.Gpus[0].DrmRenderMinor;
        Assert.Equal([new RenderFileRef(minor, 0), new RenderFileRef(minor, 1)], sim.Client.RenderFilesOpenedBy(restored));
        Assert.Equal(sim.Client.Run(pid, 3), sim.Client.Run(restored, 3));
        Assert.True(sim.Client.State(pid).Digest == sim.Client.State(restored).Digest, $"{because}: the restored process continued differently from its twin");
    }
}
