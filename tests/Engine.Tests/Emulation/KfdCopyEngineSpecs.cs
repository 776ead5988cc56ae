using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// VRAM through the copy engine, end to end through <c>--driver kfd</c> and the emulated kernel: a VRAM BO KFD
/// allocated without PUBLIC cannot be mapped by the CPU (EPERM), so the checkpoint moves it with SDMA COPY_LINEAR
/// packets through a staging buffer; so does a PUBLIC one on a small-BAR device; a host-visible BO on a large-BAR device
/// keeps the CPU path. The manifest lists what the copy engine moved.
/// </summary>
[Trait("Tier", "Full")]
public sealed class KfdCopyEngineSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-sdma-");
    private readonly List<TestSimulator> _sims = [];

    public void Dispose()
    {
        foreach (var sim in _sims) sim.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task A_vram_bo_that_is_not_host_visible_is_copied_by_sdma_to_the_simulator_paths_bytes_and_restores_to_the_same_continuation()
    {
        // 3 MiB: more than one staging buffer, so the copy goes in pieces.
        var spec = new WorkloadSpec
        {
            Gpus = 1,
            KfdBos =
            [
                new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 3 << 20, Public = false },
                new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 64 << 10 },
                new KfdBoSpec { Gpu = 0, Domain = "gtt", Size = 64 << 10 },
            ],
            RenderBos =
            [
                new RenderBoSpec { Gpu = 0, Import = "kfd:0", Size = 3 << 20, Mappings = [new MappingSpec { Offset = 0, Size = 1 << 20 }] },
                new RenderBoSpec { Gpu = 0, Domain = "vram", Size = 64 << 10, Mappings = [new MappingSpec { Offset = 0, Size = 64 << 10 }] },
            ],
        };
        var (sim, pid, run, because) = await CheckpointThroughTheKernel(spec, smallBar: false);
        var gpu = sim.Server.Topology.Gpus[0].GpuId;

        // Only the BO the CPU may not map went through the copy engine: the KFD BO, and the render file's import of it.
        var import = ImageReader.Open(Dir("kfd")).FilesOf(ImageFileKind.RenderNode).Select(f => ImageReader.Open(Dir("kfd")).Read(f, global::Gpuckpt.Engine.Images.Proto.CriuRenderNode.Parser))
            .SelectMany(n => n.BoEntries).Single(b => b.IsImport != 0).Handle;
        Assert.Equal([$"kfd:0x{gpu:x}:0", "render:" + global::Gpuckpt.Engine.Checkpoint.ImageIds.RenderNode(0) + $":{import}"], CopyEngineBos(Dir("kfd")));
        Assert.True(run.Requests.GetValueOrDefault(DrmIoctls.AmdgpuCs) >= 2, $"{because}: {run.Requests.GetValueOrDefault(DrmIoctls.AmdgpuCs)} SDMA submissions for 3 MiB");

        // The simulator path, on the same paused-then-resumed process, writes the same contents and says the same.
        var (rc, _, err) = await Sim(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Dir("sim"), "--leave-running", "--json", "--state-dir", Dir("state-sim")]);
        Assert.True(rc == 0, $"{because}: checkpoint on the simulator path exited {rc}: {err}");
        Assert.Equal(CopyEngineBos(Dir("sim")), CopyEngineBos(Dir("kfd")));
        foreach (var kind in new[] { ImageFileKind.KfdPages, ImageFileKind.DrmPages })
        {
            var files = ImageReader.Open(Dir("kfd")).FilesOf(kind);
            Assert.Equal(files, ImageReader.Open(Dir("sim")).FilesOf(kind));
            foreach (var f in files)
                Assert.True(File.ReadAllBytes(Path.Combine(Dir("kfd"), f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Dir("sim"), f))), $"{because}: {f} differs between the kfd and the simulator path");
        }

        await RestoresToTheSameContinuation(sim, pid, because);
    }

    [Fact]
    public async Task A_public_vram_bo_on_a_small_bar_device_goes_through_sdma_and_gtt_keeps_the_cpu_path()
    {
        var spec = new WorkloadSpec
        {
            Gpus = 1,
            KfdBos = [new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 256 << 10 }, new KfdBoSpec { Gpu = 0, Domain = "gtt", Size = 64 << 10 }],
            RenderBos = [],
        };
        var (sim, pid, _, because) = await CheckpointThroughTheKernel(spec, smallBar: true);
        Assert.Equal([$"kfd:0x{sim.Server.Topology.Gpus[0].GpuId:x}:0"], CopyEngineBos(Dir("kfd")));
        await RestoresToTheSameContinuation(sim, pid, because);
    }

    private static List<string> CopyEngineBos(string image) =>
        ImageReader.Open(image).Manifest.Extra.TryGetValue(ManifestExtra.CopyEngineBos, out var keys) ? [.. keys.Split(',')] : [];

    private async Task<(TestSimulator Sim, uint Pid, EmulatedRun Run, string Because)> CheckpointThroughTheKernel(WorkloadSpec spec, bool smallBar)
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        var sim = new TestSimulator(gpus: 1, idSeed: 37, smallBar: smallBar);
        _sims.Add(sim);
        var pid = sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: spec.ToJson()));
        sim.Client.Run(pid, 2);
        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("job", pid)] });
        var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@job", "--images", Dir("kfd"), "--leave-running",
            "--json", "--state-dir", Dir("state-kfd")), Timeout);
        Assert.True(run.ExitCode == 0, $"{because}: checkpoint --driver kfd exited {run.ExitCode}: {run.Stderr}");
        // No CPU mapping of a BO the kernel refuses was even tried: every mmap the kernel saw succeeded.
        Assert.All(kernel.RenderMmaps, m => Assert.Equal(0, m.Errno));
        return (sim, pid, run, because);
    }

    private async Task RestoresToTheSameContinuation(TestSimulator sim, uint pid, string because)
    {
        var (rc, output, err) = await Sim(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("kfd"), "--json", "--state-dir", Dir("state-restore"),
            "--trust-key", Path.Combine(Dir("state-kfd"), "image.key")]);
        Assert.True(rc == 0, $"{because}: restore of the kfd image exited {rc}: {err}");
        var restored = JsonDocument.Parse(output).RootElement.GetProperty("pid").GetUInt32();
        Assert.Equal(sim.Client.Run(pid, 3), sim.Client.Run(restored, 3));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
    }

    private static async Task<(int Rc, string Out, string Err)> Sim(string[] args)
    {
        var result = await GpuckptProcess.RunAsync(args, timeout: Timeout);
        return (result.ExitCode, result.Stdout, result.Stderr);
    }
}
