using System.Text.Json;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// Two of the kernel's shapes, end to end through <c>--driver kfd</c> and the emulated kernel: KFD's CHECKPOINT refuses
/// a NULL array even with a count of 0 (a process without KFD BOs), and GEM_LIST_HANDLES reports a BO's alignment in
/// pages where GEM_CREATE takes bytes.
/// </summary>
[Trait("Tier", "Full")]
public sealed class KfdArraysAndUnitsSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-shapes-");
    private readonly List<TestSimulator> _sims = [];

    public void Dispose()
    {
        foreach (var sim in _sims) sim.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    private static RenderBoSpec Render(ulong size, ulong alignment) => new()
    {
        Gpu = 0, Domain = "vram", Size = size, Alignment = alignment, Mappings = [new MappingSpec { Offset = 0, Size = size }],
    };

    [Fact]
    public async Task A_process_without_kfd_bos_checkpoints_through_the_kernel_and_restores_to_the_same_continuation()
    {
        var spec = new WorkloadSpec { Gpus = 1, KfdBos = [], RenderBos = [Render(64 << 10, 0), Render(128 << 10, 0)] };
        var (image, _, restored, because) = await CheckpointAndRestore(spec);
        Assert.Empty(ImageReader.Open(image).Read(ImageFileName.Kfd(1), CriuKfd.Parser).BoEntries);
        Assert.True(restored > 0, because);
    }

    [Fact]
    public async Task Render_bos_aligned_to_more_than_a_page_restore_with_the_alignment_they_had()
    {
        var alignments = new ulong[] { 8 << 10, 12 << 10, 64 << 10, 2 << 20 };
        var spec = new WorkloadSpec
        {
            Gpus = 1, KfdBos = [new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 64 << 10 }],
            RenderBos = [.. alignments.Select(a => Render(256 << 10, a))],
        };
        var (image, sim, restored, because) = await CheckpointAndRestore(spec);

        // The image says what the kernel says: pages.
        var saved = RenderBos(image);
        Assert.Equal(alignments.Select(a => a / 4096).Order(), saved.Select(b => b.Alignment).Order());

        // The restored process, checkpointed again, holds every BO with the alignment it had.
        var again = Dir("again");
        var (rc, _, err) = await Sim(["checkpoint", "--driver", $"sim:{sim}", "--pid", $"{restored}", "--images", again, "--leave-running", "--json", "--state-dir", Dir("state-again")]);
        Assert.True(rc == 0, $"{because}: checkpoint of the restored process exited {rc}: {err}");
        Assert.Equal(saved, RenderBos(again));
    }

    private static List<(uint Handle, ulong Size, ulong Alignment)> RenderBos(string dir)
    {
        var reader = ImageReader.Open(dir);
        return [.. reader.FilesOf(ImageFileKind.RenderNode).SelectMany(f => reader.Read(f, CriuRenderNode.Parser).BoEntries)
            .Select(b => (b.Handle, b.Size, b.Alignment)).Order()];
    }

    /// <summary>Spawns <paramref name="spec"/>, checkpoints it through the emulated kernel, restores the image on the simulator path and checks the continuation.</summary>
    private async Task<(string Image, string Socket, uint Restored, string Because)> CheckpointAndRestore(WorkloadSpec spec)
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        var sim = new TestSimulator(gpus: 1, idSeed: 29);
        _sims.Add(sim);
        var pid = sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: spec.ToJson()));
        sim.Client.Run(pid, 2);

        using (var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("job", pid)] }))
        {
            var run = kernel.Run(KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@job", "--images", Dir("kfd"), "--leave-running",
                "--json", "--state-dir", Dir("state-kfd")), Timeout);
            Assert.True(run.ExitCode == 0, $"{because}: checkpoint --driver kfd exited {run.ExitCode}: {run.Stderr}");
        }
        var (rc, output, err) = await Sim(["restore", "--driver", $"sim:{sim.SocketPath}", "--images", Dir("kfd"), "--json", "--state-dir", Dir("state-restore"), "--trust-key", Path.Combine(Dir("state-kfd"), "image.key")]);
        Assert.True(rc == 0, $"{because}: restore of the kfd image exited {rc}: {err}");
        var restored = JsonDocument.Parse(output).RootElement.GetProperty("pid").GetUInt32();
        Assert.Equal(sim.Client.Run(pid, 3), sim.Client.Run(restored, 3));
        Assert.Equal(sim.Client.State(pid).Digest, sim.Client.State(restored).Digest);
        return (Dir("kfd"), sim.SocketPath, restored, because);
    }

    private static async Task<(int Rc, string Out, string Err)> Sim(string[] args)
    {
        var result = await GpuckptProcess.RunAsync(args, timeout: Timeout);
        return (result.ExitCode, result.Stdout, result.Stderr);
    }
}
