using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests;

/// <summary>Runs its classes after every parallel class is done, alone in the test process.</summary>
[CollectionDefinition(nameof(AloneInProcess), DisableParallelization = true)]
public sealed class AloneInProcess;

/// <summary>
/// The engine's allocations while it copies, counted process-wide (GC.GetTotalAllocatedBytes): meaningful only when no
/// other test runs in the process, hence <see cref="AloneInProcess"/>.
/// </summary>
[Collection(nameof(AloneInProcess))]
public class MemorySpecs(ITestOutputHelper output) : EngineSpec(output)
{
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
