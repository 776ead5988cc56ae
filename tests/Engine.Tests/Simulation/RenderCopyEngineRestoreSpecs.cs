using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// Render-node VRAM the CPU may not write goes back through the copy engine on restore, as it came out: a render BO
/// created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS (which the simulator refuses to map, as amdgpu refuses GEM_MMAP and mmap
/// of it), and any render VRAM on a small-BAR GPU (restored with every CPU mapping refused). A restore resumed after
/// its engine was killed reaches such a BO again through a dmabuf of its own file. Each continues as the original.
/// </summary>
public sealed class RenderCopyEngineRestoreSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-render-sdma-").FullName;
    private readonly List<TestSimulator> _sims = [];

    private string Dir(string name) => Path.Combine(_dir, name);

    private static WorkloadSpec Spec(bool noCpuAccess) => new()
    {
        Gpus = 1,
        KfdBos = [new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 256 << 10 }],
        RenderBos =
        [
            new RenderBoSpec { Gpu = 0, Domain = "vram", Size = 192 << 10, NoCpuAccess = noCpuAccess, Mappings = [new MappingSpec { Offset = 0, Size = 64 << 10 }] },
            new RenderBoSpec { Gpu = 0, Domain = "vram", Size = 64 << 10, Mappings = [new MappingSpec { Offset = 0, Size = 64 << 10 }] },
        ],
        Links = [new LinkSpec { Target = "render:0", Inputs = ["kfd:0", "render:1"] }, new LinkSpec { Target = "kfd:0", Inputs = ["render:0"] }],
    };

    [Fact]
    public async Task A_render_bo_without_cpu_access_is_checkpointed_and_restored_by_the_copy_engine_and_continues_as_the_original()
    {
        var (sim, pid, because) = Start(Spec(noCpuAccess: true), smallBar: false);
        await Checkpoint(sim, pid, because);
        Assert.Contains(CopyEngineBos(Dir("image")), k => k.StartsWith("render:", StringComparison.Ordinal));

        var restored = await Restore(sim, because);

        Assert.Equal(sim.Client.Run(pid, 3), sim.Client.Run(restored, 3));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
    }

    [Fact]
    public async Task Render_vram_on_a_small_bar_gpu_is_restored_by_the_copy_engine_with_every_cpu_mapping_refused()
    {
        var (sim, pid, because) = Start(Spec(noCpuAccess: false), smallBar: true);
        await Checkpoint(sim, pid, because);
        // From here on the CPU maps nothing: a restore that writes VRAM through a CPU mapping fails.
        sim.Client.InjectFault(new SimFault(0, SimOp.MapBo, Errno.EIO, Count: 1_000_000));

        var restored = await Restore(sim, because);

        sim.Client.InjectFault(new SimFault(0, SimOp.MapBo, Errno.EIO, Count: 0));
        Assert.Equal(sim.Client.Run(pid, 3), sim.Client.Run(restored, 3));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
    }

    [Fact]
    public async Task A_restore_resumed_after_its_engine_was_killed_reaches_a_render_bo_without_cpu_access_through_a_dmabuf_of_its_file()
    {
        var (sim, pid, because) = Start(Spec(noCpuAccess: true), smallBar: false);
        await Checkpoint(sim, pid, because);
        const string job = "rest-nocpu";
        var killed = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("image"), "--job", job, "--state-dir", Dir("state-restore"),
            "--trust-key", Path.Combine(Dir("state"), "image.key")], new Dictionary<string, string> { ["GPUCKPT_CRASH_AT"] = "render-restored" }, Timeout);
        Assert.True(killed.Killed, killed.ToString());

        var resumed = await GpuckptProcess.RunAsync(["resume", job, "--state-dir", Dir("state-restore"), "--json", "--trust-key", Path.Combine(Dir("state"), "image.key")], timeout: Timeout);

        Assert.True(resumed.ExitCode == 0, $"{because}: {resumed}");
        var restored = JsonDocument.Parse(resumed.Stdout).RootElement.GetProperty("pid").GetUInt32();
        Assert.Equal(sim.Client.Run(pid, 3), sim.Client.Run(restored, 3));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
    }

    private (TestSimulator Sim, uint Pid, string Because) Start(WorkloadSpec spec, bool smallBar)
    {
        var seed = (ulong)TestSeed.Fresh();
        var sim = new TestSimulator(gpus: 1, idSeed: 41, smallBar: smallBar);
        _sims.Add(sim);
        var pid = sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: spec.ToJson()));
        sim.Client.Run(pid, 2);
        return (sim, pid, $"seed {seed}");
    }

    private async Task Checkpoint(TestSimulator sim, uint pid, string because)
    {
        var r = await GpuckptProcess.RunAsync(["checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running",
            "--json", "--state-dir", Dir("state")], timeout: Timeout);
        Assert.True(r.ExitCode == 0, $"{because}: checkpoint: {r}");
    }

    private async Task<uint> Restore(TestSimulator sim, string because)
    {
        var r = await GpuckptProcess.RunAsync(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("image"), "--json", "--state-dir", Dir("state-restore"),
            "--trust-key", Path.Combine(Dir("state"), "image.key")], timeout: Timeout);
        Assert.True(r.ExitCode == 0, $"{because}: restore: {r}");
        return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("pid").GetUInt32();
    }

    private static List<string> CopyEngineBos(string image) =>
        ImageReader.Open(image).Manifest.Extra.TryGetValue(ManifestExtra.CopyEngineBos, out var keys) ? [.. keys.Split(',')] : [];

    public void Dispose()
    {
        foreach (var sim in _sims) sim.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
