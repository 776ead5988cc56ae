using System.Text.Json;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// A process holding two render files of one GPU: each is its own kernel file with its own GEM handles and VM, so
/// handles (and GPU addresses) repeat between them. The checkpoint writes one render image per open file, the restore
/// recreates each file with its own BOs, and the workload continues as the uninterrupted one does.
/// </summary>
[Trait("Tier", "Full")]
public sealed class SeveralRenderFilesSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-render-files-");
    private readonly TestSimulator _sim = new(gpus: 1, idSeed: 41);

    public void Dispose()
    {
        _sim.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Dir(string name) => Path.Combine(_dir.FullName, name);

    private static RenderBoSpec Bo(int file, string domain, ulong size, string? import = null) => new()
    {
        Gpu = 0, File = file, Domain = domain, Size = size, Import = import, Mappings = [new MappingSpec { Offset = 0, Size = size }],
    };

    /// <summary>One GPU, a KFD BO, two render files: file 1's handles 1 and 2 are file 0's too; it also imports the KFD BO and file 0's first BO.</summary>
    internal static WorkloadSpec TwoFiles() => new()
    {
        Gpus = 1,
        KfdBos = [new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 64 << 10 }],
        RenderBos =
        [
            Bo(0, "vram", 128 << 10), Bo(0, "gtt", 64 << 10),
            Bo(1, "vram", 96 << 10), Bo(1, "gtt", 32 << 10), Bo(1, "vram", 64 << 10, import: "kfd:0"), Bo(1, "vram", 128 << 10, import: "render:0"),
        ],
    };

    /// <summary>The image's render files in id order: GPU and handles of each.</summary>
    internal static List<(uint GpuId, uint[] Handles)> RenderFilesOf(string image)
    {
        var reader = ImageReader.Open(image);
        return [.. reader.FilesOf(ImageFileKind.RenderNode).Select(f => reader.Read(f, CriuRenderNode.Parser)).OrderBy(n => n.Id)
            .Select(n => (n.GpuId, n.BoEntries.Select(b => b.Handle).Order().ToArray()))];
    }

    [Fact]
    public async Task Two_render_files_of_one_gpu_with_colliding_handles_restore_each_into_its_own_file_and_continue_as_the_twin()
    {
        var seed = (ulong)TestSeed.Fresh();
        var because = $"seed {seed}";
        var spec = TwoFiles();
        var pid = _sim.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: spec.ToJson()));
        _sim.Client.Run(pid, 2);
        var minor = _sim.Server.Topology.Gpus[0].DrmRenderMinor;
        Assert.Equal([new RenderFileRef(minor, 0), new RenderFileRef(minor, 1)], _sim.Client.RenderFilesOpenedBy(pid));

        var checkpoint = await Gpuckpt(["checkpoint", "--driver", $"sim:{_sim.SocketPath}", "--pid", $"{pid}", "--images", Dir("image"), "--leave-running",
            "--json", "--state-dir", Dir("state")]);
        Assert.True(checkpoint.ExitCode == 0, $"{because}: checkpoint exited {checkpoint.ExitCode}: {checkpoint.Stderr}");

        // One render image per open file, not per GPU: the same GPU, the same handles, each file its own BOs.
        var files = RenderFilesOf(Dir("image"));
        Assert.Equal(2, files.Count);
        Assert.Equal(files[0].GpuId, files[1].GpuId);
        Assert.Equal([1u, 2u], files[0].Handles);
        Assert.Equal([1u, 2u, 3u, 4u], files[1].Handles);

        var restore = await Gpuckpt(["restore", "--driver", $"sim:{_sim.SocketPath}", "--images", Dir("image"), "--json", "--state-dir", Dir("state-restore"), "--trust-key", Path.Combine(Dir("state"), "image.key")]);
        Assert.True(restore.ExitCode == 0, $"{because}: restore exited {restore.ExitCode}: {restore.Stderr}");
        var restored = JsonDocument.Parse(restore.Stdout).RootElement.GetProperty("pid").GetUInt32();
        Assert.Equal([new RenderFileRef(minor, 0), new RenderFileRef(minor, 1)], _sim.Client.RenderFilesOpenedBy(restored));
        Assert.Equal(_sim.Client.State(pid).Digest, _sim.Client.State(restored).Digest);
        Assert.Equal(_sim.Client.Run(pid, 3), _sim.Client.Run(restored, 3));
        Assert.True(_sim.Client.State(pid).Digest == _sim.Client.State(restored).Digest, $"{because}: the restored process continued differently from its twin");
    }

    private static Task<GpuckptProcess.Result> Gpuckpt(string[] args) => GpuckptProcess.RunAsync(args, timeout: Timeout);
}
