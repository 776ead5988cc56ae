using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Checkpoint;

public sealed class CheckpointCaptureSpecs
{
    [Fact]
    public void The_render_files_of_a_capture_stay_open_for_the_copy_and_close_with_it()
    {
        // A real BO maps only through a render file holding it: closing the files before the copy fails its first chunk.
        var seed = TestSeed.Fresh();
        using var sim = new TestSimulator(gpus: 2, idSeed: 9);
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", (ulong)seed, sizeBytes: 16UL << 20));
        using var kfd = sim.Client.OpenKfd(pid);
        var captured = CheckpointCapture.Capture(sim.Client, kfd, KfdCheckpoint.ProcessInfo(kfd), 1 << 20);

        Assert.Equal(sim.Client.RenderMinorsOpenedBy(pid), captured.OpenRenderFiles.Select(f => f.Minor));
        foreach (var file in captured.OpenRenderFiles)
        {
            var list = new DrmAmdgpuGemListHandles();
            Assert.True(file.GemListHandles(ref list, []) == 0, $"seed {seed}: renderD{file.Minor} was closed before the copy");
            Assert.True(list.num_entries > 0, $"seed {seed}");
        }

        captured.Dispose();
        foreach (var file in captured.OpenRenderFiles)
        {
            var list = new DrmAmdgpuGemListHandles();
            Assert.Equal(Errno.EBADF, file.GemListHandles(ref list, []));
        }
        KfdCheckpoint.Unpause(kfd);
    }
}
