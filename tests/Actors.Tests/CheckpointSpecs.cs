using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Simulation;
using Gpuckpt.Engine.Uapi;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

public class CheckpointSpecs(ITestOutputHelper output) : EngineSpec(output)
{
    [Fact]
    public async Task Page_files_hold_every_BO_byte_as_the_simulator_has_it()
    {
        using var node = new SimNode();
        using var images = new TempDir();
        const ulong seed = 11;
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 48UL << 20));
        node.Client.Run(pid, 2);

        var summary = await Checkpoint(node.Client, pid, images.Path);

        // Read the simulator's memory independently of the engine: ask KFD again (the process is still paused).
        using var kfd = node.Client.OpenKfd(pid);
        var snapshot = KfdCheckpoint.Checkpoint(kfd, KfdCheckpoint.ProcessInfo(kfd));
        var topology = node.Client.Topology();
        var checkedBytes = 0L;
        foreach (var device in snapshot.Devices)
        {
            var minor = topology.Single(g => g.GpuId == device.actual_gpu_id).DrmRenderMinor;
            using var file = File.OpenRead(Path.Combine(images.Path, ImageFileName.KfdPages(ImageIds.Kfd, device.user_gpu_id)));
            var prefix = new byte[8];
            file.ReadExactly(prefix);
            foreach (var bo in snapshot.Bos.Where(b => b.gpu_id == device.user_gpu_id && ((KfdAllocFlags)b.alloc_flags).HasContents()))
            {
                var expected = new byte[bo.size];
                using (var mapping = node.Client.MapBo(minor, bo.offset, bo.size, writable: false)) mapping.Read(0, expected);
                var actual = new byte[bo.size];
                file.ReadExactly(actual);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"seed {seed}: BO at 0x{bo.addr:x} on GPU 0x{bo.gpu_id:x} differs in {file.Name}");
                Assert.Contains(expected, b => b != 0);
                checkedBytes += (long)bo.size;
            }
            Assert.Equal(file.Length, file.Position);
        }
        foreach (var fd in snapshot.Bos.Where(b => b.dmabuf_fd != KfdSnapshot.InvalidFd)) node.Client.CloseFd((int)fd.dmabuf_fd);

        Assert.True(checkedBytes > 32L << 20, $"only {checkedBytes} bytes of KFD BOs checked");
        Assert.True(summary.Bytes >= checkedBytes);
        var verified = ImageVerifier.Verify(images.Path);
        Assert.True(verified.Ok, verified.Describe());
        Assert.True(node.Client.State(pid).Paused, "the process stays paused after a checkpoint that does not leave it running");
    }

    [Fact]
    public async Task Leave_running_unpauses_once_after_the_commit_and_the_workload_goes_on()
    {
        using var node = new SimNode();
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 5));

        await Checkpoint(node.Client, pid, images.Path, leaveRunning: true);

        var state = node.Client.State(pid);
        Assert.False(state.Paused);
        Assert.Equal(1, state.Counters.ProcessInfo);
        Assert.Equal(1, state.Counters.Unpause);
        Assert.Equal(3UL, node.Client.Run(pid, 3));
        Assert.Equal(ImageState.Committed, ImageReader.Open(images.Path).Manifest.State);
    }

    [Fact]
    public async Task A_failing_op_marks_the_image_failed_and_unpauses_the_process_exactly_once()
    {
        using var node = new SimNode();
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("tiny", 6));
        node.Client.InjectFault(new SimFault(pid, SimOp.GemMappingInfo, Engine.Devices.Errno.EIO));

        Jobs(node.Client).Tell(new CheckpointRequest(pid, images.Path, LeaveRunning: false), TestActor);
        var failed = await ExpectMsgAsync<CheckpointFailed>(JobTimeout);

        Assert.Contains("GEM_OP(GET_MAPPING_INFO)", failed.Reason);
        Assert.Contains("EIO", failed.Reason);
        Assert.True(failed.Unpaused);
        var state = node.Client.State(pid);
        Assert.False(state.Paused);
        Assert.Equal(1, state.Counters.Unpause);
        var error = Assert.Throws<ImageException>(() => ImageReader.Open(images.Path));
        Assert.Contains("failed", error.Message);
    }

    [Fact]
    public async Task Copies_of_one_device_overlap_and_devices_progress_independently()
    {
        using var node = new SimNode();
        using var images = new TempDir();
        var pid = node.Client.Spawn(WorkloadRequest.Named("train", 3, sizeBytes: 24UL << 20));
        foreach (var gpu in node.Client.Topology()) node.Client.SetCopyDelay(gpu.GpuId, 4000);
        var progress = CreateTestProbe();
        Sys.EventStream.Subscribe(progress.Ref, typeof(DeviceProgress));

        await Checkpoint(node.Client, pid, images.Path);

        var events = progress.ReceiveWhile(TimeSpan.FromSeconds(1), o => (DeviceProgress)o).ToList();
        var gpuDevices = events.Select(e => e.Device).Where(d => d.StartsWith("GPU", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(gpuDevices.Count >= 2, $"progress from {string.Join(", ", gpuDevices)}");
        Assert.Contains(events, e => e.ChunksInFlight >= 2);
        // Both GPUs report progress before either of them is done.
        var firstDone = events.FindIndex(e => e.BytesDone == e.BytesTotal);
        Assert.True(gpuDevices.All(d => events.Take(firstDone).Any(e => e.Device == d)),
            "a device only started after another had finished");
    }

    [Fact]
    public async Task Memory_stays_within_the_pool_for_a_BO_ten_times_larger()
    {
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        // The engine as a user runs it (no per-message serialization checks), with a 2 MiB pool.
        await using var engine = EngineHost.Start(node.Client, "gpuckpt.copy.chunk-size = 256KiB\ngpuckpt.copy.pool-chunks = 8", "memory-spec");
        var bo = (ulong)engine.Pool.Bytes * 12;
        var spec = $$"""{"gpus":1,"kfd_bos":[{"gpu":0,"domain":"vram","size":{{bo}}},{"gpu":0,"domain":"gtt","size":65536}]}""";
        var pid = node.Client.Spawn(new WorkloadRequest(null, 9, SpecJson: spec));
        // A first, small job pays the one-time costs (actor start-up, code paths run once), so they are not counted.
        var warmUp = node.Client.Spawn(WorkloadRequest.Named("tiny", 8));
        Assert.IsType<CheckpointCompleted>(await engine.CheckpointAsync(new CheckpointRequest(warmUp, images.Sub("warm-up"), LeaveRunning: true), JobTimeout));

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var reply = await engine.CheckpointAsync(new CheckpointRequest(pid, images.Sub("big"), LeaveRunning: true), JobTimeout);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        var summary = Assert.IsType<CheckpointCompleted>(reply).Summary;
        Assert.True(summary.Bytes >= (long)bo);
        Assert.True(engine.Pool.PeakRented <= engine.Pool.Capacity);
        Assert.True(allocated < (long)bo / 4,
            $"the engine allocated {allocated} bytes to checkpoint a {bo}-byte BO with a {engine.Pool.Bytes}-byte pool");
        Assert.True(ImageVerifier.Verify(images.Sub("big")).Ok);
    }
}
