using System.Text.Json;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Copy;

/// <summary>
/// A render node's BOs each fill chunks of their own (a file each, thousands in a large job). Their mappings are
/// declared to the driver many at a time, ahead of the copy, rather than asked for one BO at a time. What a user relies on: the image restores equal to
/// the process, and a declaration is never left behind with the driver, where a later mapping of the same range would
/// take it instead of asking the driver (which checks that a BO is there now).
/// </summary>
public sealed class DeclaredMapsSpecs(ITestOutputHelper output) : EngineSpec(output, "gpuckpt.copy.retry.first-backoff = 1ms")
{
    private const int RenderBos = 40;

    /// <summary>One GPU: a KFD BO and <see cref="RenderBos"/> render BOs of two pages, each mapped; every BO fills a chunk alone.</summary>
    private static WorkloadRequest Workload(ulong seed)
    {
        var render = Enumerable.Range(0, RenderBos)
            .Select(_ => new { gpu = 0, domain = "gtt", size = 8192, mappings = new[] { new { offset = 0, size = 8192 } } });
        var spec = JsonSerializer.Serialize(new { gpus = 1, kfd_bos = new[] { new { gpu = 0, domain = "gtt", size = 8192 } }, render_bos = render });
        return new WorkloadRequest(null, seed, SpecJson: spec);
    }

    [Fact]
    public async Task BOs_of_their_own_chunks_are_declared_in_one_call_each_mapped_once_and_the_restore_equals_the_process()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(Workload(seed));
        node.Client.Run(pid, 2);
        var digest = node.Client.State(pid).Digest;
        using var driver = new DeclaringDriver(node.Client);

        await Checkpoint(driver, pid, images.Path, leaveRunning: true);
        var saved = driver.Take();
        var restored = await Restore(driver, images.Path);
        var loaded = driver.Take();

        Assert.Equal(digest, node.Client.State(restored.Pid).Digest);
        foreach (var (what, seen) in new[] { ("checkpoint", saved), ("restore", loaded) })
        {
            Assert.True(seen.Maps > RenderBos, $"seed {seed}: the {what} mapped {seen.Maps} BOs");
            Assert.True(seen.Undeclared == 0, $"seed {seed}: the {what} mapped {seen.Undeclared} BOs without declaring them ({seen})");
            // One call per device copied (the KFD GPU's, the render node's).
            Assert.True(seen.Declarations <= 2, $"seed {seed}: the {what} declared its BOs in {seen.Declarations} calls ({seen})");
            Assert.True(seen.Unused == 0, $"seed {seed}: the {what} left {seen.Unused} declarations neither mapped nor forgotten ({seen})");
        }
    }

    [Fact]
    public async Task A_copy_that_fails_after_declaring_BOs_ahead_leaves_no_declaration_with_the_driver()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var node = new SimNode(gpus: 1);
        using var images = new TempDir();
        var pid = node.Client.Spawn(Workload(seed));
        var minor = node.Client.RenderMinorsOpenedBy(pid)[0];
        using var driver = new DeclaringDriver(node.Client);
        // A lasting fault at the read of the render node's 11th chunk's BO, one chunk in flight at a time: the BOs of the
        // chunks after it were declared with the first ones, and are never mapped.
        var fault = new ChunkFault($"renderD{minor}", 10, FaultSide.Bo, Errno.EIO, Times: 1000);

        Jobs(driver, Settings with { Faults = new ChunkFaults([fault]), WorkersPerDevice = 1 })
            .Tell(new CheckpointRequest(pid, images.Path, LeaveRunning: true), TestActor);
        var failed = await ExpectMsgAsync<CheckpointFailed>(JobTimeout);
        Out.WriteLine(failed.Reason);

        var seen = driver.Take();
        // Every BO (the KFD BO too, whose device the failure may stop first) was declared, then mapped or forgotten.
        Assert.True(seen.Maps + seen.Forgotten == RenderBos + 1 && seen.Forgotten >= RenderBos - 11,
            $"seed {seed}: the render node's copy did not stop at its 11th BO ({seen})");
        Assert.True(seen.Unused == 0, $"seed {seed}: {seen.Unused} declared BOs neither mapped nor forgotten ({seen})");
        Assert.Equal(1, node.Client.State(pid).Counters.Unpause);
    }

    /// <summary>What a driver saw since the last look: mappings, those not declared first, declaration calls, declarations forgotten and left.</summary>
    private sealed record Seen(int Maps, int Undeclared, int Declarations, int Forgotten, int Unused);

    /// <summary>Records every declaration, mapping and forgetting, and hands each on: a declared range is pending until its one mapping or its forgetting.</summary>
    private sealed class DeclaringDriver(SimulatorClient sim) : ForwardingDriver(sim)
    {
        private readonly Lock _gate = new();
        private readonly HashSet<BoRange> _pending = [];
        private int _maps, _undeclared, _declarations, _forgotten;

        public override void PrepareMaps(IReadOnlyList<BoRange> bos)
        {
            lock (_gate)
            {
                _declarations++;
                foreach (var bo in bos) _pending.Add(bo);
            }
            Inner.PrepareMaps(bos);
        }

        public override void ForgetMaps(IReadOnlyList<BoRange> bos)
        {
            lock (_gate)
            {
                foreach (var bo in bos)
                    if (_pending.Remove(bo)) _forgotten++;
            }
            Inner.ForgetMaps(bos);
        }

        public override IBoMapping MapBo(uint renderMinor, ulong mmapOffset, ulong size, bool writable)
        {
            lock (_gate)
            {
                _maps++;
                if (!_pending.Remove(new BoRange(renderMinor, mmapOffset, size))) _undeclared++;
            }
            return Inner.MapBo(renderMinor, mmapOffset, size, writable);
        }

        /// <summary>What was seen since the last call; the counts start again.</summary>
        public Seen Take()
        {
            lock (_gate)
            {
                var seen = new Seen(_maps, _undeclared, _declarations, _forgotten, _pending.Count);
                _maps = _undeclared = _declarations = _forgotten = 0;
                return seen;
            }
        }
    }
}
