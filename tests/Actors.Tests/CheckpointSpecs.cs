using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
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

        Assert.True(checkedBytes > 24L << 20, $"only {checkedBytes} bytes of KFD BOs checked");
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
        // Only KFD BOs, so that every read of a render node's memory comes from that GPU's device actor.
        const string spec = """{"gpus":2,"kfd_bos":[{"gpu":0,"domain":"vram","size":8388608},{"gpu":1,"domain":"vram","size":8388608}]}""";
        var pid = node.Client.Spawn(new WorkloadRequest(null, 3, SpecJson: spec));
        // No read completes until two reads of each GPU are in flight at the same moment.
        var minors = node.Client.Topology().Select(g => g.DrmRenderMinor).ToList();
        var rendezvous = new CopyRendezvous(minors, readsPerNode: 2, patience: TimeSpan.FromSeconds(60));
        node.Client.MeetCopiesAt(rendezvous);
        var progress = CreateTestProbe();
        Sys.EventStream.Subscribe(progress.Ref, typeof(DeviceProgress));

        var summary = await Checkpoint(node.Client, pid, images.Path);

        Assert.True(rendezvous.Opened, "the copies never had two reads of each GPU in flight at once");
        Assert.True(summary.Bytes >= 16L << 20);
        Assert.True(ImageVerifier.Verify(images.Path).Ok);
        // Each device published its progress before the job replied, so it is all in the probe's mailbox now.
        var events = new List<DeviceProgress>();
        while (progress.HasMessages) events.Add(progress.ExpectMsg<DeviceProgress>(TimeSpan.Zero));
        var gpuDevices = events.Where(e => e.BytesDone == e.BytesTotal).Select(e => e.Device)
            .Where(d => d.StartsWith("GPU", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(gpuDevices.Count == 2, $"complete progress from {string.Join(", ", gpuDevices)}");
    }
}
