using Gpuckpt.Emulator;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Emulation;

/// <summary>
/// mmap of a render node as drm_gem_mmap allows it: a BO maps through a file allowed on it (one holding its handle, or
/// the file its process gave KFD) at the offset the driver gave; another file of the same node gets EACCES, an offset
/// where no BO starts EINVAL. The kfd backend's checkpoint maps every BO through the target's own files.
/// </summary>
[Trait("Tier", "Full")]
public sealed class KfdMmapSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-kfdemu-mmap-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>Maps [offset, offset+size) of a render node through a file it opens itself; prints "mapped" or the errno.</summary>
    private const string MapThroughOwnFile =
        "import mmap, os, sys\n" +
        "fd = os.open(sys.argv[1], os.O_RDWR)\n" +
        "try:\n" +
        "    mmap.mmap(fd, int(sys.argv[3]), offset=int(sys.argv[2]))\n" +
        "    print('mapped')\n" +
        "except OSError as e:\n" +
        "    print(e.errno)\n";

    [Fact]
    public void A_bo_mapped_through_a_file_not_allowed_on_it_is_refused_and_the_checkpoint_maps_through_the_targets_files()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var sim = new TestSimulator(gpus: 1, idSeed: 37);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("tiny", seed));
        var minor = sim.Client.RenderMinorsOpenedBy(pid)[0];
        ulong offset, size;
        using (var node = sim.Client.OpenRenderNode(pid, minor))
        {
            var list = new DrmAmdgpuGemListHandles { num_entries = 64 };
            var entries = new DrmAmdgpuGemListHandlesEntry[64];
            Assert.Equal(0, node.GemListHandles(ref list, entries));
            var own = entries.Take((int)list.num_entries).First(e => (e.flags & AmdgpuGem.ListHandlesFlagIsImport) == 0);
            var mmap = new DrmAmdgpuGemMmap { handle = own.gem_handle };
            Assert.Equal(0, node.GemMmap(ref mmap));
            (offset, size) = (mmap.addr_ptr, (own.size + 4095) & ~4095UL);
        }

        using var kernel = new EmulatedKernel(sim.Server, new EmulatedKernelOptions { Targets = [("job", pid)] });
        var device = $"/dev/dri/renderD{minor}";
        var runs = kernel.RunAll([
            ["/usr/bin/python3", "-c", MapThroughOwnFile, device, $"{offset}", $"{size}"],
            ["/usr/bin/python3", "-c", MapThroughOwnFile, device, $"{offset + 4096}", "4096"],
            KfdEmulationSpecs.Gpuckpt("checkpoint", "--driver", "kfd", "--pid", "@job", "--images", Path.Combine(_dir.FullName, "image"), "--leave-running",
                "--json", "--state-dir", Path.Combine(_dir.FullName, "state")),
        ], Timeout);

        Assert.True(runs[0].ExitCode == 0, runs[0].Stderr);
        Assert.Equal($"{Errno.EACCES}", runs[0].Stdout.Trim());
        Assert.True(runs[1].ExitCode == 0, runs[1].Stderr);
        Assert.Equal($"{Errno.EINVAL}", runs[1].Stdout.Trim());
        Assert.True(runs[2].ExitCode == 0, $"seed {seed}: checkpoint --driver kfd exited {runs[2].ExitCode}: {runs[2].Stderr}");
        Assert.True(ImageVerifier.Verify(Path.Combine(_dir.FullName, "image")).Ok, $"seed {seed}: the image does not verify");
        // The checkpoint mapped every BO it copied, each through a file allowed on it.
        var checkpointMaps = kernel.RenderMmaps.Skip(2).ToList();
        Assert.NotEmpty(checkpointMaps);
        Assert.All(checkpointMaps, m => Assert.True(m.Errno == 0, $"seed {seed}: mmap at 0x{m.Offset:x} refused with errno {m.Errno}"));
    }
}
