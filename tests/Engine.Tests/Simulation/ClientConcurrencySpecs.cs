using Gpuckpt.Simulator;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>One client used from many threads at once, as the engine's device actors use it.</summary>
public sealed class ClientConcurrencySpecs
{
    [Fact]
    public void Threads_sharing_a_client_each_get_their_own_replies()
    {
        const int seed = 515;
        using var sim = new TestSimulator(gpus: 2, idSeed: 12);
        var target = sim.Client.CreateRestoreTarget();
        var minors = sim.Server.Topology.Gpus.Select(g => g.DrmRenderMinor).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            var rng = new Random(seed + t);
            using var node = sim.Client.OpenRenderNode(target, minors[t % 2]);
            for (var i = 0; i < 10; i++)
            {
                var size = (ulong)rng.Next(1, 32) * AmdgpuGem.GpuPageSize;
                var create = new DrmAmdgpuGemCreate { bo_size = size, domains = AmdgpuGem.DomainGtt };
                if (node.GemCreate(ref create) != 0) { failures.Add($"thread {t}: GEM_CREATE failed"); return; }
                var mmap = new DrmAmdgpuGemMmap { handle = create.handle };
                if (node.GemMmap(ref mmap) != 0) { failures.Add($"thread {t}: GEM_MMAP failed"); return; }
                var data = new byte[size];
                rng.NextBytes(data);
                using (var w = sim.Client.MapBo(node.Minor, mmap.addr_ptr, size, writable: true)) w.Write(0, data);
                var back = new byte[size];
                using (var r = sim.Client.MapBo(node.Minor, mmap.addr_ptr, size, writable: false)) r.Read(0, back);
                if (!data.AsSpan().SequenceEqual(back)) failures.Add($"seed {seed + t}: BO {create.handle} on renderD{node.Minor} read back other bytes");
            }
        });
        Assert.Empty(failures);
        Assert.Equal(160, sim.Client.State(target).Bos);
    }

    [Fact]
    public void A_topology_file_sets_the_gpus_of_a_simulator_process()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gpuckpt-topology-{Guid.NewGuid():N}.json");
        var topology = SimTopology.Generate(3, 77, vramSize: 16UL << 30);
        File.WriteAllText(path, topology.ToJson());
        try
        {
            using var sim = SimulatorProcess.Start(TestSimulator.NewSocketPath(), topologyPath: path);
            using var client = SimulatorClient.Connect(sim.SocketPath);
            Assert.Equal(topology.Gpus, client.Topology(), new GpuNodeComparer());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class GpuNodeComparer : IEqualityComparer<Gpuckpt.Engine.Topology.GpuNode>
    {
        public bool Equals(Gpuckpt.Engine.Topology.GpuNode? x, Gpuckpt.Engine.Topology.GpuNode? y) =>
            x is not null && y is not null && (x with { IoLinks = [] }) == (y with { IoLinks = [] }) && x.IoLinks.SequenceEqual(y.IoLinks);

        public int GetHashCode(Gpuckpt.Engine.Topology.GpuNode obj) => obj.GpuId.GetHashCode();
    }
}
