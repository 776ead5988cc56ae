using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Simulator.Workloads;
using Xunit;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>Deterministic workloads: the digest is a function of workload, seed and steps, whatever the GPUs.</summary>
public sealed class WorkloadSpecs : IDisposable
{
    private readonly TestSimulator _a = new(gpus: 2, idSeed: 5);
    private readonly TestSimulator _b = new(gpus: 2, idSeed: 6);

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    public static TheoryData<string, ulong> Workloads => new()
    {
        { "tiny", 0 },
        { "train", 16UL << 20 },
        { "many-bos", 0 },
        { "serve", 16UL << 20 },
    };

    private static WorkloadRequest Request(string name, ulong size, ulong seed) =>
        WorkloadRequest.Named(name, seed, size == 0 ? null : size, name == "many-bos" ? 500 : null);

    [Theory]
    [MemberData(nameof(Workloads))]
    public void Same_seed_gives_the_same_digest_on_other_gpus_and_different_seeds_differ(string name, ulong size)
    {
        const ulong seed = 31337;
        var p1 = _a.Client.Spawn(Request(name, size, seed));
        var p2 = _b.Client.Spawn(Request(name, size, seed));
        var p3 = _a.Client.Spawn(Request(name, size, seed + 1));
        var s1 = _a.Client.State(p1);
        Assert.Equal(s1.Digest, _b.Client.State(p2).Digest);
        Assert.NotEqual(s1.Digest, _a.Client.State(p3).Digest);
        Assert.True(s1.Bytes > 0);

        _a.Client.Run(p1, 2);
        _a.Client.Run(p1, 3);
        _b.Client.Run(p2, 5);
        var after = _a.Client.State(p1);
        Assert.Equal(5UL, after.Step);
        Assert.True(after.Digest == _b.Client.State(p2).Digest, $"{name} seed {seed}: 2+3 steps differ from 5 steps on other GPUs");
        Assert.NotEqual(s1.Digest, after.Digest);
    }

    [Fact]
    public void Train_has_what_the_engine_must_handle()
    {
        var spec = WorkloadCatalog.Train(7, 1UL << 30);
        Assert.Equal(2, spec.Gpus);
        Assert.InRange(spec.KfdBos.Count + spec.RenderBos.Count, 200, 1000);
        var sizes = spec.KfdBos.Where(b => b.Domain is "vram" or "gtt").Select(b => b.Size).ToList();
        Assert.Equal(4096UL, sizes.Min());
        Assert.Equal(64UL << 20, sizes.Max());
        Assert.InRange(sizes.Aggregate(0UL, (a, b) => a + b), 600UL << 20, 1UL << 30);
        Assert.Contains(spec.KfdBos, b => b.Domain == "userptr");
        Assert.Contains(spec.KfdBos, b => b.Domain == "doorbell");
        Assert.Contains(spec.KfdBos, b => b.Domain == "mmio");
        Assert.Contains(spec.RenderBos, r => r.Import == "kfd:0" && r.Gpu == 1);
        Assert.All(spec.RenderBos, r => Assert.InRange(r.Mappings.Count, 2, 3));
        Assert.Equal(64 << 10, spec.PrivDataSize);
    }

    [Theory]
    [InlineData(64UL << 20)]
    [InlineData(100UL << 20)]
    [InlineData(1UL << 30)]
    [InlineData(3UL << 30)]
    public void Train_holds_the_size_asked_for_within_1_percent(ulong size)
    {
        foreach (var seed in new ulong[] { 1, 7, 42, 1234 })
        {
            var spec = WorkloadCatalog.Train(seed, size);
            var held = spec.KfdBos.Aggregate(0UL, (a, b) => a + b.Size)
                + spec.RenderBos.Where(r => r.Import is null).Aggregate(0UL, (a, r) => a + r.Size);
            Assert.True(Math.Abs((double)held - size) <= size / 100.0, $"seed {seed}: train of {size} bytes holds {held}");
        }
    }

    [Fact]
    public void Serve_keeps_its_weights_and_rewrites_under_5_percent_of_its_memory_each_step()
    {
        const ulong seed = 77;
        var pid = _a.Client.Spawn(WorkloadRequest.Named("serve", seed, 32UL << 20));
        var spec = WorkloadCatalog.Serve(seed, 32UL << 20);
        var weights = spec.KfdBos.Count(b => b.Domain == "vram" && !b.Writable);
        var before = Contents(pid);
        for (var step = 1; step <= 3; step++)
        {
            _a.Client.Run(pid, 1);
            var after = Contents(pid);
            long changed = 0;
            for (var b = 0; b < before.Count; b++)
                for (var i = 0; i < before[b].Length; i++)
                    if (before[b][i] != after[b][i]) changed++;
            Assert.True(changed > 0 && changed * 20 <= Total(before), $"seed {seed}, step {step}: {changed} of {Total(before)} bytes changed");
            for (var w = 0; w < weights; w++) Assert.True(before[w].AsSpan().SequenceEqual(after[w]), $"seed {seed}, step {step}: weight BO {w} changed");
            before = after;
        }
        Assert.True(Total(before) >= 30L << 20, $"serve of 32 MiB holds {Total(before)} bytes of contents");

        static long Total(List<byte[]> bos) => bos.Sum(b => (long)b.Length);
    }

    /// <summary>The contents of every KFD BO with memory, in bucket order (read while the process is paused, then unpaused).</summary>
    private List<byte[]> Contents(uint pid)
    {
        using var kfd = _a.Client.OpenKfd(pid);
        var info = new Gpuckpt.Engine.Uapi.KfdIoctlCriuArgs { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.ProcessInfo };
        Assert.Equal(0, kfd.CriuOp(ref info, [], [], []));
        var devices = new Gpuckpt.Engine.Uapi.KfdCriuDeviceBucket[info.num_devices];
        var bos = new Gpuckpt.Engine.Uapi.KfdCriuBoBucket[info.num_bos];
        var dump = info with { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref dump, devices, bos, new byte[info.priv_data_size]));
        var minor = _a.Server.Topology.Gpus.Single(g => g.GpuId == devices[0].actual_gpu_id).DrmRenderMinor;
        var contents = new List<byte[]>();
        foreach (var bo in bos.Where(b => b.dmabuf_fd != uint.MaxValue))
        {
            using var map = _a.Client.MapBo(minor, bo.offset, bo.size, writable: false);
            var bytes = new byte[bo.size];
            map.Read(0, bytes);
            contents.Add(bytes);
            _a.Client.CloseFd((int)bo.dmabuf_fd);
        }
        var unpause = new Gpuckpt.Engine.Uapi.KfdIoctlCriuArgs { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.Unpause };
        Assert.Equal(0, kfd.CriuOp(ref unpause, [], [], []));
        return contents;
    }

    [Fact]
    public void Contents_are_random_from_the_seed_not_zeros()
    {
        var pid = _a.Client.Spawn(WorkloadRequest.Named("tiny", 5));
        using var kfd = _a.Client.OpenKfd(pid);
        var info = new Gpuckpt.Engine.Uapi.KfdIoctlCriuArgs { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.ProcessInfo };
        Assert.Equal(0, kfd.CriuOp(ref info, [], [], []));
        var devices = new Gpuckpt.Engine.Uapi.KfdCriuDeviceBucket[info.num_devices];
        var bos = new Gpuckpt.Engine.Uapi.KfdCriuBoBucket[info.num_bos];
        var dump = info with { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref dump, devices, bos, new byte[info.priv_data_size]));
        var minor = _a.Server.Topology.Gpus.Single(g => g.GpuId == devices[0].actual_gpu_id).DrmRenderMinor;
        foreach (var bo in bos.Where(b => b.dmabuf_fd != uint.MaxValue))
        {
            using var map = _a.Client.MapBo(minor, bo.offset, bo.size, writable: false);
            var bytes = new byte[bo.size];
            map.Read(0, bytes);
            Assert.True(bytes.Count(x => x == 0) < bytes.Length / 64, $"BO 0x{bo.addr:x} is mostly zeros");
            _a.Client.CloseFd((int)bo.dmabuf_fd);
        }
    }

    [Fact]
    public void Many_bos_has_as_many_bos_as_asked()
    {
        var pid = _a.Client.Spawn(WorkloadRequest.Named("many-bos", 3, bos: 3000));
        var state = _a.Client.State(pid);
        Assert.Equal(3000 + 3000 / 20 + 3000 / 50, state.Bos);
        Assert.Equal(1UL, _a.Client.Run(pid, 1));
    }

    [Fact]
    public void A_spec_file_defines_gpus_bos_imports_and_links()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gpuckpt-spec-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {"gpus":2,
             "kfd_bos":[{"gpu":0,"domain":"vram","size":65536},{"gpu":1,"domain":"gtt","size":8192},
                        {"gpu":1,"domain":"doorbell","size":8192}],
             "render_bos":[{"gpu":1,"import":"kfd:0","mappings":[{"offset":0,"size":65536}]},
                           {"gpu":0,"domain":"gtt","size":8192,"mappings":[{"offset":0,"size":4096},{"offset":4096,"size":4096}]},
                           {"gpu":1,"import":"render:1","mappings":[{"offset":0,"size":8192}]}],
             "links":[{"target":"kfd:1","inputs":["render:0","render:2"]},{"target":"render:1","inputs":["kfd:0"]}],
             "priv_data_size":1024,"queues":1,"events":3}
            """);
        try
        {
            var pid = _a.Client.Spawn(WorkloadRequest.FromSpecFile(path, 9));
            var state = _a.Client.State(pid);
            Assert.Equal(2, state.Gpus);
            Assert.Equal(6, state.Bos);
            Assert.Equal(2, _a.Client.RenderMinorsOpenedBy(pid).Count);
            var before = state.Digest;
            _a.Client.Run(pid, 1);
            Assert.NotEqual(before, _a.Client.State(pid).Digest);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_bad_spec_is_refused_with_the_reason()
    {
        var bad = new WorkloadSpec { Gpus = 1, KfdBos = [new KfdBoSpec { Domain = "hbm" }] };
        var e = Assert.Throws<DriverException>(() => _a.Client.Spawn(new WorkloadRequest(null, 1, SpecJson: bad.ToJson())));
        Assert.Equal(Errno.EINVAL, e.ErrorNumber);
        Assert.Contains("hbm", e.Message);
        var tooMany = Assert.Throws<DriverException>(() => _a.Client.Spawn(new WorkloadRequest(null, 1, SpecJson: new WorkloadSpec { Gpus = 3 }.ToJson())));
        Assert.Contains("3 GPUs", tooMany.Message);
        Assert.Contains("unknown workload", Assert.Throws<DriverException>(() => _a.Client.Spawn(WorkloadRequest.Named("nope", 1))).Message);
    }

    [Fact]
    public void Vectorised_contents_equal_the_word_by_word_definition()
    {
        const ulong seed = 0x5eed;
        var pid = _a.Client.Spawn(new WorkloadRequest(null, seed, SpecJson: new WorkloadSpec
        {
            Gpus = 1, KfdBos = [new KfdBoSpec { Size = 3 * 4096 }], Links = [],
        }.ToJson()));
        using var kfd = _a.Client.OpenKfd(pid);
        var info = new Gpuckpt.Engine.Uapi.KfdIoctlCriuArgs { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.ProcessInfo };
        Assert.Equal(0, kfd.CriuOp(ref info, [], [], []));
        var bos = new Gpuckpt.Engine.Uapi.KfdCriuBoBucket[1];
        var dump = info with { op = (uint)Gpuckpt.Engine.Uapi.KfdCriuOp.Checkpoint };
        Assert.Equal(0, kfd.CriuOp(ref dump, new Gpuckpt.Engine.Uapi.KfdCriuDeviceBucket[1], bos, new byte[info.priv_data_size]));
        var bytes = new byte[bos[0].size];
        using (var map = _a.Client.MapBo(_a.Server.Topology.Gpus[0].DrmRenderMinor, bos[0].offset, bos[0].size, writable: false)) map.Read(0, bytes);
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(bytes);
        var boSeed = SimTopology.Mix64(seed ^ 0x6b6664);
        for (var i = 0; i < words.Length; i++)
            Assert.True(words[i] == SimTopology.Mix64(boSeed + (ulong)i * 0x9e3779b97f4a7c15UL), $"seed {seed}: word {i} differs");
    }

    [Fact]
    public void A_workload_larger_than_the_memory_dir_can_hold_is_ENOSPC_not_a_crash()
    {
        using var huge = new TestSimulator(topology: SimTopology.Generate(1, 13, vramSize: 1UL << 50));
        var free = (ulong)new DriveInfo(huge.Server.MemoryDir).AvailableFreeSpace;
        var spec = new WorkloadSpec { Gpus = 1, KfdBos = [new KfdBoSpec { Size = GpuMemoryPage(free + (1UL << 30)) }], Links = [] };
        var e = Assert.Throws<DriverException>(() => huge.Client.Spawn(new WorkloadRequest(null, 1, SpecJson: spec.ToJson())));
        Assert.Equal(Errno.ENOSPC, e.ErrorNumber);
        Assert.Contains(huge.Server.MemoryDir, e.Message);
        Assert.Equal(0UL, huge.Client.Run(huge.Client.Spawn(WorkloadRequest.Named("tiny", 1)), 0));
    }

    private static ulong GpuMemoryPage(ulong bytes) => (bytes + 4095) & ~4095UL;
}
