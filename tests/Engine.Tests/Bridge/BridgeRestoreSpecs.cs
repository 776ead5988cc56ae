using System.Globalization;
using Gpuckpt.Actors.Bridge;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors;
using Gpuckpt.Emulator;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator.Workloads;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Emulation;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>
/// The restore half of the bridge, driven by the C harness playing CRIU (its main process, and a forked child playing
/// the restored task) and KFD: a GPU image the engine checkpointed from a simulated process is restored through the
/// built bridge by the engine's journalled restore job. What CRIU gets back at each hook, which task issued RESTORE,
/// how often RESUME came, and the BO bytes that landed in the restored task's render file against the process's own.
/// </summary>
public sealed class BridgeRestoreSpecs : IDisposable
{
    private const int KfdId = 7, RenderId = 9;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-bridge-restore-");
    private readonly string _kfd;
    private readonly string _socket;

    public BridgeRestoreSpecs()
    {
        // The stand-in KFD file: the harness plays the kernel for the CRIU ops on it.
        _kfd = Path.Combine(_dir.FullName, "kfd");
        File.WriteAllBytes(_kfd, []);
        _socket = Path.Combine(_dir.FullName, "bridge.sock");
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private string Images => Path.Combine(_dir.FullName, "images");

    /// <summary>KFD BOs of each kind with contents (VRAM, GTT) and without (a doorbell), mixed for a few steps.</summary>
    private static WorkloadRequest Workload() => new(null, 41, SpecJson: new WorkloadSpec
    {
        Gpus = 1,
        KfdBos =
        [
            new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 256 * 1024 },
            new KfdBoSpec { Gpu = 0, Domain = "vram", Size = 64 * 1024 },
            new KfdBoSpec { Gpu = 0, Domain = "gtt", Size = 128 * 1024 },
            new KfdBoSpec { Gpu = 0, Domain = "doorbell", Size = 8192 },
        ],
    }.ToJson());

    /// <summary>A process of the simulator, stepped and checkpointed by the engine into the image's gpu/; it runs on, unchanged.</summary>
    private async Task<(uint Pid, uint Minor)> Checkpoint(TestSimulator sim, string? config = null)
    {
        var pid = sim.Client.Spawn(Workload());
        sim.Client.Run(pid, 3);
        using var client = SimulatorClient.Connect(sim.SocketPath);
        await using (var engine = EngineHost.Start(client, config, "bridge-restore-ckpt"))
        {
            var reply = await engine.CheckpointAsync(new CheckpointRequest(pid, BridgeSession.GpuImageDir(Images), LeaveRunning: true), TimeSpan.FromMinutes(2));
            Assert.True(reply is CheckpointCompleted, reply.ToString());
        }
        // What the dump recorded of CRIU's file ids: the KFD file, and the GPU's render file.
        var minor = sim.Client.Topology().Single().DrmRenderMinor;
        BridgeGpuFiles.Store(Images, [new BridgeGpuFile(KfdId, true, 0, 0), new BridgeGpuFile(RenderId, false, minor, 0)]);
        return (pid, minor);
    }

    private sealed record Restored(HarnessRun Run, BridgeRestoreSession Session, string RenderFile, List<string> Log);

    /// <summary>Restores the image through the harness: the task's render file is a file of the size of the GPU's memory, which the BO copies map.</summary>
    private async Task<Restored> Restore(TestSimulator sim, uint minor, string? config = null)
    {
        var topology = Path.Combine(_dir.FullName, "topology");
        KfdSysfsTree.Write(topology, sim.Server.Topology);
        var dri = Directory.CreateDirectory(Path.Combine(_dir.FullName, "dri")).FullName;
        var render = Path.Combine(dri, $"renderD{minor}");
        using (var f = new FileStream(render, FileMode.Create)) f.SetLength(64L << 20);
        using var driver = new BridgeRestoreDriver(new KfdDriverPaths { Kfd = _kfd, Dri = dri, Topology = topology });
        var log = new List<string>();
        await using var engine = EngineHost.Start(driver, config, "bridge-restore");
        var session = new BridgeRestoreSession(driver, new BridgeRestores(engine, TimeSpan.FromMinutes(2)), Images, l => { lock (log) log.Add(l); });
        var refused = new List<string>();
        HarnessRun run;
        using (BridgeServer.Start(_socket, session.Serve, r => { lock (refused) refused.Add(r); }))
            run = BridgeHarness.Run(BridgeHarness.BridgeSo, _kfd, "restore-gpu", 0, _socket, environment: new Dictionary<string, string> { ["HARNESS_RENDER"] = render });
        Assert.True(refused.Count == 0, string.Join("\n", refused));
        return new Restored(run, session, render, log);
    }

    /// <summary>The BOs the played KFD restored: old and new mmap offset, size, flags.</summary>
    private static List<(ulong Old, ulong New, ulong Size, uint Flags)> RestoredBos(HarnessRun run) =>
    [
        .. run.Stdout.Split('\n').Where(l => l.StartsWith("bo ", StringComparison.Ordinal)).Select(l =>
        {
            var f = l.Split(' ').Skip(2).Select(w => w[(w.IndexOf('=') + 1)..]).ToArray();
            return (ulong.Parse(f[0], CultureInfo.InvariantCulture), ulong.Parse(f[1], CultureInfo.InvariantCulture),
                ulong.Parse(f[2], CultureInfo.InvariantCulture), uint.Parse(f[3], CultureInfo.InvariantCulture));
        }),
    ];

    private static bool HasContents(uint flags) => ((KfdAllocFlags)flags).HasContents();

    [Fact]
    public async Task The_restored_task_issues_RESTORE_gets_its_files_and_mappings_back_and_is_resumed_once_with_the_bytes_it_had()
    {
        using var sim = new TestSimulator(gpus: 1);
        var (_, minor) = await Checkpoint(sim);
        var (run, session, render, log) = await Restore(sim, minor);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0, run.Rc("INIT"));
        Assert.Equal(-Errno.EOPNOTSUPP, run.Rc("POST_FORKING")); // nothing to do there: the contents are written in the task
        Assert.Equal(0, run.Count("exit"));
        // Each GPU file's RESTORE_EXT_FILE returned an fd of that file, opened inside the task.
        Assert.All(run.Rcs("RESTORE_EXT_FILE"), rc => Assert.True(rc >= 0, run.ToString()));
        Assert.Equal((1, 1), (run.Count("kfd_is_kfd"), run.Count("render_is_render")));
        // The bridge's socket and held files in the task sit above the numbers CRIU gives the task's own files.
        Assert.Equal(0, run.Count("low_fds_added"));
        // RESTORE came from the restored task (not CRIU's main process), with the task's own render fd; RESUME once, by its pid.
        Assert.Equal((1, 1, 1, 0, 0), (run.Count("restore"), run.Count("restorer_is_task"), run.Count("resume"), run.Count("resume_refused"), run.Count("restore_refused")));
        Assert.Equal(0, run.Rc("RESUME_DEVICES_LATE"));
        Assert.True(session.Resumed);
        Assert.Null(session.Failure);
        // Each mapping of a BO with contents moved to its new offset, through the task's render file; others are not the bridge's.
        var bos = RestoredBos(run);
        Assert.Equal(4, bos.Count);
        Assert.Equal((bos.Count(b => HasContents(b.Flags)), 0), (run.Count("moved"), run.Count("wrong")));
        Assert.Contains(-Errno.EOPNOTSUPP, run.Rcs("UPDATE_VMA_MAP"));
        Assert.Contains(0, run.Rcs("UPDATE_VMA_MAP"));
        Assert.Equal([BridgeHook.Init, BridgeHook.PostForking, BridgeHook.RestoreExtFile, BridgeHook.RestoreExtFile],
            session.Called.Take(4));
        Assert.Equal([BridgeHook.ResumeDevicesLate, BridgeHook.Exit], session.Called.TakeLast(2));

        // Bytes restored equal bytes saved: each BO at its new offset in the task's render file equals the process's BO.
        using var file = File.OpenHandle(render);
        foreach (var bo in bos.Where(b => HasContents(b.Flags)))
        {
            var restored = new byte[bo.Size];
            Assert.Equal(restored.Length, RandomAccess.Read(file, restored, (long)bo.New));
            using var map = sim.Client.MapBo(minor, bo.Old, bo.Size, writable: false);
            var saved = new byte[bo.Size];
            map.Read(0, saved);
            Assert.True(saved.AsSpan().SequenceEqual(restored), $"BO at old offset 0x{bo.Old:x} ({bo.Size} bytes) differs after restore");
            Assert.Contains(saved, b => b != 0); // a BO of zeros would prove nothing
        }
        Assert.Contains(log, l => l.Contains($"pid ", StringComparison.Ordinal) && l.Contains("GPU resumed", StringComparison.Ordinal));
        Assert.Equal(0, run.Count("leaked"));
        // The task runs on with its end of the bridge open: the engine hung up when CRIU's restore ended.
        Assert.Equal(1, run.Count("hung_up"));
    }

    /// <summary>
    /// Flips one byte in the middle of the image's KFD page file; its name. <paramref name="reseal"/>: as a forger would,
    /// with the manifest's checksums recomputed and the manifest sealed again.
    /// </summary>
    private string CorruptKfdPages(bool reseal = false)
    {
        var dir = BridgeSession.GpuImageDir(Images);
        var pages = Directory.EnumerateFiles(dir).Single(f => Path.GetFileName(f).StartsWith("amdgpu-pages-", StringComparison.Ordinal));
        var bytes = File.ReadAllBytes(pages);
        bytes[bytes.Length / 2] ^= 0x5a;
        if (reseal) Gpuckpt.Engine.Tests.Images.Mutation.ImageForge.RewriteFile(dir, Path.GetFileName(pages), bytes);
        else File.WriteAllBytes(pages, bytes);
        return Path.GetFileName(pages);
    }

    [Fact]
    public async Task A_signed_image_forged_and_resealed_fails_the_task_s_hook_before_RESTORE_with_a_line_naming_the_file()
    {
        using var sim = new TestSimulator(gpus: 1);
        var (_, minor) = await Checkpoint(sim);
        var pages = CorruptKfdPages(reseal: true);

        var (run, session, _, _) = await Restore(sim, minor);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(-Errno.EIO, run.Rc("RESTORE_EXT_FILE"));
        Assert.Equal(1, run.Count("exit")); // the task failed: CRIU kills it and never reaches RESUME_DEVICES_LATE
        Assert.Equal(int.MinValue, run.Rc("RESUME_DEVICES_LATE"));
        // The signature covers the manifest: the forgery is found before the kernel is asked for anything.
        Assert.Equal((0, 0), (run.Count("restore"), run.Count("resume")));
        Assert.False(session.Resumed);
        Assert.Contains("GPU restore of pid", run.Stderr);
        Assert.Contains(pages, run.Stderr);
        Assert.Contains(pages, session.Failure);
    }

    [Fact]
    public async Task A_signed_image_whose_content_byte_changed_under_its_manifest_is_rolled_back_and_never_resumed() =>
        // Page files are checked as the contents stream into the restored task, their signed digests once written.
        await RolledBackMidway(config: null);

    [Fact]
    public async Task An_unsigned_image_whose_content_byte_fails_its_checksum_midway_is_rolled_back_and_never_resumed()
    {
        // An image from elsewhere, restored with --allow-unsigned: its contents are checked chunk by chunk as they stream.
        var run = await RolledBackMidway("gpuckpt.images.sign = off\ngpuckpt.images.require-signature = off");
        Assert.Contains("GPU restore of pid", run.Stderr);
    }

    /// <summary>
    /// Checkpoints, changes a byte of the KFD page file under its manifest, restores: RESTORE was issued by the task, the
    /// bad chunk found while writing contents, rolled back, no RESUME; the failure names the file and the offset.
    /// </summary>
    private async Task<HarnessRun> RolledBackMidway(string? config)
    {
        using var sim = new TestSimulator(gpus: 1);
        var (_, minor) = await Checkpoint(sim, config);
        var pages = CorruptKfdPages();

        var (run, session, _, _) = await Restore(sim, minor, config);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(-Errno.EIO, run.Rc("RESTORE_EXT_FILE"));
        Assert.Equal(1, run.Count("exit"));
        Assert.Equal(int.MinValue, run.Rc("RESUME_DEVICES_LATE"));
        Assert.Equal((1, 1, 0), (run.Count("restore"), run.Count("restorer_is_task"), run.Count("resume")));
        Assert.False(session.Resumed);
        Assert.Contains(pages, run.Stderr);
        Assert.Contains("offset", session.Failure);
        return run;
    }
}
