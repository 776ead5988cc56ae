using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace Gpuckpt.Engine.Tests.Bridge;

/// <summary>
/// gpuckpt_bridge.so, dlopened by a C harness that calls its hooks in CRIU's order, against the engine's bridge server
/// and dump session: what CRIU gets back from each hook, how often the GPU is paused and unpaused, the dmabuf fds that
/// cross, the image left behind, and that no fd leaks in the CRIU process.
/// </summary>
public sealed class BridgeHookSpecs : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-bridge-spec-");
    private readonly string _kfd;
    private readonly string _socket;

    public BridgeHookSpecs()
    {
        // The stand-in KFD file: the harness opens it and plays the kernel for the CRIU ops on it.
        _kfd = Path.Combine(_dir.FullName, "kfd");
        File.WriteAllBytes(_kfd, []);
        _socket = Path.Combine(_dir.FullName, "bridge.sock");
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private string Images => Path.Combine(_dir.FullName, "images");

    /// <summary>The checkpoint job's KFD side, run through the bridge: PROCESS_INFO, CHECKPOINT, every dmabuf read back.</summary>
    private sealed class KfdThroughBridge(BridgeDriver driver) : IBridgeCheckpoints
    {
        public List<byte[]> Contents { get; } = [];
        public KfdSnapshot? Snapshot { get; private set; }

        public Task<BridgeCheckpointOutcome> CheckpointAsync(uint pid, string imagesDir, CancellationToken cancel)
        {
            var kfd = driver.OpenKfd(pid);
            var info = KfdCheckpoint.ProcessInfo(kfd);
            Snapshot = KfdCheckpoint.Checkpoint(kfd, info);
            foreach (var bo in Snapshot.Bos)
            {
                using var fd = new SafeFileHandle((nint)bo.dmabuf_fd, ownsHandle: true);
                var bytes = new byte[bo.size];
                Assert.Equal(bytes.Length, RandomAccess.Read(fd, bytes, 0));
                Contents.Add(bytes);
            }
            using var writer = ImageWriter.Create(imagesDir, ImageHeader.New(new ImageSource(driver.Name, (int)pid), []));
            writer.Commit();
            return Task.FromResult(new BridgeCheckpointOutcome(true, $"{info.NumBos} BOs"));
        }
    }

    private (HarnessRun Run, BridgeSession Session, KfdThroughBridge Jobs, List<string> Refused) Dump(string scenario, int bos, string? bridge = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        using var driver = new BridgeDriver(new KfdDriverPaths { Kfd = _kfd });
        var jobs = new KfdThroughBridge(driver);
        var session = new BridgeSession(driver, jobs, Images, _ => { });
        var refused = new List<string>();
        HarnessRun run;
        using (BridgeServer.Start(_socket, session.Serve, refused.Add))
            run = BridgeHarness.Run(bridge ?? BridgeHarness.BridgeSo, _kfd, scenario, bos, _socket, environment: environment);
        return (run, session, jobs, refused);
    }

    [Fact]
    public void The_shipped_bridge_ignores_GPUCKPT_BRIDGE_FAULT_and_only_the_test_variant_fails_the_named_hook()
    {
        var fault = new Dictionary<string, string> { ["GPUCKPT_BRIDGE_FAULT"] = "DUMP_EXT_FILE" };
        var (shipped, _, _, _) = Dump("dump", 2, BridgeHarness.BridgeSo, fault);
        Assert.True(shipped.ExitCode == 0, shipped.ToString());
        Assert.Equal([0, -Errno.EOPNOTSUPP], shipped.Rcs("DUMP_EXT_FILE"));
        Assert.DoesNotContain("injected fault", shipped.Stderr);
        Assert.Equal((1, 1, 1), (shipped.Count("process_info"), shipped.Count("checkpoint"), shipped.Count("unpause")));
        Assert.Equal(ImageState.Committed, ManifestCodec.Load(BridgeSession.GpuImageDir(Images)).State);
        // No trace of the variable in the shipped binary: nothing in it can read it.
        Assert.False(File.ReadAllBytes(BridgeHarness.BridgeSo).AsSpan().IndexOf("GPUCKPT_BRIDGE_FAULT"u8) >= 0, "the shipped bridge names GPUCKPT_BRIDGE_FAULT");

        Directory.Delete(Images, recursive: true);
        var (test, _, _, _) = Dump("dump", 2, BridgeHarness.FaultBridgeSo, fault);
        Assert.True(test.ExitCode == 0, test.ToString());
        Assert.Equal(-Errno.EIO, test.Rcs("DUMP_EXT_FILE")[0]);
        Assert.Contains("DUMP_EXT_FILE: injected fault", test.Stderr);
    }

    [Fact]
    public void A_dump_pauses_checkpoints_and_unpauses_exactly_once_and_300_dmabufs_cross_in_bucket_order()
    {
        var (run, session, jobs, refused) = Dump("dump", 300);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(refused);
        Assert.Equal(0, run.Rc("INIT"));
        Assert.Equal(0, run.Rc("PAUSE_DEVICES"));
        Assert.True(run.Rc("CHECKPOINT_DEVICES") == 0, run.ToString());
        // The KFD file is the engine's; /dev/null is not: CRIU hears "not mine" (-EOPNOTSUPP) for it and for its mappings.
        Assert.Equal([0, -Errno.EOPNOTSUPP], run.Rcs("DUMP_EXT_FILE"));
        Assert.Equal(-Errno.EOPNOTSUPP, run.Rc("HANDLE_DEVICE_VMA"));
        Assert.Equal((1, 1, 1, 0), (run.Count("process_info"), run.Count("checkpoint"), run.Count("unpause"), run.Count("paused")));
        Assert.Equal(0, run.Count("leaked"));
        // 300 dmabuf fds: more than one SCM_RIGHTS message holds; each arrived as its own BO, in bucket order.
        Assert.Equal(300, jobs.Contents.Count);
        for (var i = 0; i < 300; i++)
            Assert.True(jobs.Contents[i].All(b => b == (byte)(i * 7 + 1)), $"BO {i}'s dmabuf holds another BO's bytes");
        Assert.Equal(Enumerable.Range(0, 96).Select(i => (byte)(i % 251)), jobs.Snapshot!.PrivData);
        Assert.Equal([BridgeHook.Init, BridgeHook.PauseDevices, BridgeHook.CheckpointDevices, BridgeHook.DumpExtFile, BridgeHook.DumpExtFile, BridgeHook.HandleDeviceVma, BridgeHook.Exit],
            session.Called);
        // CRIU's dump succeeded: the GPU image stays committed (the failure spec below shows the other way).
        Assert.Equal(ImageState.Committed, ManifestCodec.Load(BridgeSession.GpuImageDir(Images)).State);
        // The restore is told only CRIU's file id: the dump recorded which id was the KFD file.
        Assert.Equal([new BridgeGpuFile(7, IsKfd: true, 0, 0)], BridgeGpuFiles.Load(Images));
    }

    [Fact]
    public void A_dump_that_fails_after_the_pause_unpauses_once_and_leaves_no_gpu_image_that_verifies()
    {
        var (run, session, _, _) = Dump("dump-fail", 5);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0, run.Rc("CHECKPOINT_DEVICES"));
        Assert.Equal((1, 1, 1, 0), (run.Count("process_info"), run.Count("checkpoint"), run.Count("unpause"), run.Count("paused")));
        Assert.True(session.Unpaused);
        var verified = ImageVerifier.Verify(BridgeSession.GpuImageDir(Images));
        Assert.False(verified.Ok);
        var manifest = ManifestCodec.Load(BridgeSession.GpuImageDir(Images));
        Assert.Equal(ImageState.Failed, manifest.State);
        Assert.Contains("criu dump failed (-1)", manifest.FailureReason);
        Assert.Equal(0, run.Count("leaked"));
    }

    [Fact]
    public void An_engine_that_vanishes_after_the_pause_fails_the_hook_and_the_bridge_unpauses_once()
    {
        using var driver = new BridgeDriver(new KfdDriverPaths { Kfd = _kfd });
        var refused = new List<string>();
        void Serve(BridgeConnection connection)
        {
            driver.Connection = connection;
            while (connection.NextHook() is { } arrived)
            {
                if (arrived.Fd >= 0) BridgeConnection.CloseAll([arrived.Fd]);
                if (arrived.Call.Hook == BridgeHook.CheckpointDevices)
                {
                    KfdCheckpoint.ProcessInfo(driver.OpenKfd((uint)arrived.Call.Pid));
                    return; // the engine dies here: its socket closes with the GPU paused
                }
                connection.Reply(new BridgeReply(0));
            }
        }
        HarnessRun run;
        using (BridgeServer.Start(_socket, Serve, refused.Add))
            run = BridgeHarness.Run(BridgeHarness.BridgeSo, _kfd, "dump", 3, _socket);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(-107, run.Rc("CHECKPOINT_DEVICES")); // -ENOTCONN: CRIU fails the dump, no half image
        Assert.Contains("lost the gpuckpt engine", run.Stderr);
        Assert.Equal((1, 0, 1, 0), (run.Count("process_info"), run.Count("checkpoint"), run.Count("unpause"), run.Count("paused")));
        Assert.Equal(0, run.Count("leaked"));
    }

    [Fact]
    public void Without_an_engine_init_fails_with_one_line_that_says_what_to_do()
    {
        var unset = BridgeHarness.Run(BridgeHarness.BridgeSo, _kfd, "dump", 1, socket: null);
        Assert.Equal(-1, unset.Rc("INIT"));
        Assert.Contains("GPUCKPT_BRIDGE_SOCKET is not set: run this through `gpuckpt checkpoint --criu`", unset.Stderr);
        var nowhere = BridgeHarness.Run(BridgeHarness.BridgeSo, _kfd, "dump", 1, socket: _socket);
        Assert.Equal(-1, nowhere.Rc("INIT"));
        Assert.Contains($"no gpuckpt engine at {_socket} (connect: errno 2", nowhere.Stderr);
        // Nothing was paused: init failing is CRIU's first step, before any task is frozen.
        Assert.Equal((0, 0), (unset.Count("process_info") + nowhere.Count("process_info"), unset.Count("leaked") + nowhere.Count("leaked")));
    }

    [Fact]
    public void A_bridge_running_as_another_user_is_refused_by_its_peer_credentials()
    {
        var served = 0;
        var refused = new List<string>();
        // Any user may reach the socket here, so the peer check alone turns the stranger away.
        BridgeHarness.Chmod(_dir.FullName, 0x1ed);
        var so = Path.Combine(_dir.FullName, "gpuckpt_bridge.so");
        File.Copy(BridgeHarness.BridgeSo, so);
        BridgeHarness.Chmod(so, 0x1a4);
        BridgeHarness.Chmod(_kfd, 0x1b6);
        HarnessRun run;
        using (var server = BridgeServer.Start(_socket, _ => Interlocked.Increment(ref served), r => { lock (refused) refused.Add(r); }))
        {
            BridgeHarness.Chmod(_socket, 0x1b6);
            run = BridgeHarness.Run(so, _kfd, "init", 0, _socket, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
        }
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(-1, run.Rc("INIT"));
        Assert.Equal(0, served);
        var refusal = Assert.Single(refused);
        Assert.Contains("running as uid 65534: only root (CRIU) or uid 0 may drive this engine", refusal);
    }

    [Fact]
    public void A_restore_without_gpu_state_passes_the_hooks_through()
    {
        using var driver = new BridgeRestoreDriver(new KfdDriverPaths { Kfd = _kfd });
        var session = new BridgeRestoreSession(driver, new NoRestores(), Images, _ => { });
        HarnessRun run;
        using (BridgeServer.Start(_socket, session.Serve, _ => { }))
            run = BridgeHarness.Run(BridgeHarness.BridgeSo, _kfd, "restore", 0, _socket);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0, run.Rc("INIT"));
        Assert.Equal(-Errno.EOPNOTSUPP, run.Rc("POST_FORKING")); // "not mine": CRIU goes on
        Assert.Equal(-Errno.EOPNOTSUPP, run.Rc("RESUME_DEVICES_LATE"));
        // A file the dump recorded as no GPU file's is another plugin's: CRIU asks the next one.
        Assert.Equal(-Errno.EOPNOTSUPP, run.Rc("RESTORE_EXT_FILE"));
        Assert.False(session.HasGpuState);
        Assert.Equal(0, run.Count("leaked"));
    }

    /// <summary>An image without GPU state starts no restore job.</summary>
    private sealed class NoRestores : IBridgeRestores
    {
        public Task<BridgeRestoreOutcome> BuildAsync(string gpuImageDir, CancellationToken cancel) => throw new InvalidOperationException("no GPU state to restore");
        public Task<BridgeRestoreOutcome> ResumeAsync(CancellationToken cancel) => throw new InvalidOperationException("no GPU state to resume");
        public Task<BridgeRestoreOutcome> DiscardAsync(string reason, CancellationToken cancel) => throw new InvalidOperationException("no GPU state to discard");
    }
}
