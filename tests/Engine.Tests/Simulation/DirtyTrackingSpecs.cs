using Gpuckpt.Simulator;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>
/// The simulator's dirty tracking, which live migration's pre-copy rounds read: what a workload step wrote, per BO,
/// asked of a running process without pausing it; `serve` rewrites at most 5% of its memory per step.
/// </summary>
public sealed class DirtyTrackingSpecs : IDisposable
{
    private const ulong Size = 64UL << 20;
    private readonly TestSimulator _sim = new(gpus: 1, idSeed: 3);

    public void Dispose() => _sim.Dispose();

    [Fact]
    public void Serve_rewrites_at_most_5_percent_of_its_memory_per_step_and_the_rest_stays_clean()
    {
        var client = _sim.Client;
        var pid = client.Spawn(WorkloadRequest.Named("serve", 9, sizeBytes: Size));
        var all = client.Dirty(pid, 0);
        Assert.Equal(client.State(pid).Bytes, all.TotalBytes);
        Assert.Equal(all.TotalBytes, all.DirtyBytes);

        client.Run(pid, 1);
        var step = client.Dirty(pid, all.Clock);

        Assert.NotEmpty(step.Bos);
        Assert.True(step.DirtyBytes * 100 <= step.TotalBytes * 5,
            $"one step of serve wrote {step.DirtyBytes} of {step.TotalBytes} bytes: {string.Join(", ", step.Bos.Select(b => b.Bo))}");
        // The same batch is decoded every step: more steps dirty the same BOs, not more.
        client.Run(pid, 4);
        var five = client.Dirty(pid, all.Clock);
        Assert.Equal(step.Bos.Select(b => b.Bo), five.Bos.Select(b => b.Bo));
        Assert.Empty(client.Dirty(pid, five.Clock).Bos);

        var state = client.State(pid);
        Assert.True(state.Running && state.Counters.ProcessInfo == 0 && state.Counters.Unpause == 0,
            $"asking for the dirty set touched the process: {state}");
    }

    [Fact]
    public void Only_the_BOs_a_step_writes_are_dirty_and_the_others_keep_their_bytes()
    {
        var client = _sim.Client;
        var pid = client.Spawn(WorkloadRequest.Named("serve", 4, sizeBytes: Size));
        var twin = client.Spawn(WorkloadRequest.Named("serve", 4, sizeBytes: Size));
        var clock = client.Dirty(pid, 0).Clock;

        client.Run(pid, 3);
        var dirty = client.Dirty(pid, clock);
        var before = client.Dirty(twin, 0, digests: true).Bos.ToDictionary(b => b.Bo, b => b.Digest);
        var after = client.Dirty(pid, 0, digests: true).Bos.ToDictionary(b => b.Bo, b => b.Digest);
        var written = dirty.Bos.Select(b => b.Bo).ToHashSet();

        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.Contains(before.Keys, bo => !written.Contains(bo));
        // A BO left out of the dirty set holds what it held before the steps (the twin never stepped); one in it changed.
        foreach (var (bo, digest) in after)
            Assert.True(written.Contains(bo) ? digest != before[bo] : digest == before[bo],
                $"{bo}: {(written.Contains(bo) ? "listed as written but unchanged" : "changed but not listed as written")}");
    }
}
