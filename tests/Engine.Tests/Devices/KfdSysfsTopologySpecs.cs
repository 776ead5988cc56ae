using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Topology;
using Xunit;

namespace Gpuckpt.Engine.Tests.Devices;

public sealed class KfdSysfsTopologySpecs : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("gpuckpt-sysfs-");

    public void Dispose() => _root.Delete(recursive: true);

    /// <summary>Writes a KFD node directory the way the kernel lays it out; returns the properties it wrote.</summary>
    private Dictionary<string, ulong> WriteNode(int node, uint gpuId, Random rng, ulong vram, ulong heapType, (uint Type, uint To)[] links)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root.FullName, "nodes", node.ToString()));
        File.WriteAllText(Path.Combine(dir.FullName, "gpu_id"), $"{gpuId}\n");
        var names = new[]
        {
            "cpu_cores_count", "simd_count", "caches_count", "max_waves_per_simd", "lds_size_in_kb",
            "num_gws", "wave_front_size", "array_count", "simd_arrays_per_engine", "cu_per_simd_array", "simd_per_cu",
            "max_slots_scratch_cu", "vendor_id", "device_id", "domain", "drm_render_minor", "num_sdma_engines",
            "num_sdma_xgmi_engines", "num_sdma_queues_per_engine", "num_cp_queues", "fw_version", "capability", "sdma_fw_version",
            "gfx_target_version", "location_id", "max_engine_clk_fcompute",
        };
        var props = names.ToDictionary(n => n, _ => (ulong)rng.Next(1, 1 << 30));
        props["mem_banks_count"] = 1;
        props["io_links_count"] = (ulong)links.Length;
        props["hive_id"] = gpuId == 0 ? 0 : (ulong)rng.NextInt64(1, long.MaxValue);
        File.WriteAllLines(Path.Combine(dir.FullName, "properties"), props.Select(p => $"{p.Key} {p.Value}"));

        var bank = Directory.CreateDirectory(Path.Combine(dir.FullName, "mem_banks", "0"));
        File.WriteAllText(Path.Combine(bank.FullName, "properties"),
            $"heap_type {heapType}\nsize_in_bytes {vram}\nflags 0\nwidth 4096\nmem_clk_max 1600\n");
        for (var i = 0; i < links.Length; i++)
        {
            var l = Directory.CreateDirectory(Path.Combine(dir.FullName, "io_links", i.ToString()));
            File.WriteAllText(Path.Combine(l.FullName, "properties"),
                $"type {links[i].Type}\nversion_major 0\nversion_minor 0\nnode_from {node}\nnode_to {links[i].To}\nweight 15\n");
        }
        return props;
    }

    [Theory]
    [InlineData(101)]
    [InlineData(102)]
    public void Reads_every_gpu_property_and_leaves_cpus_out(int seed)
    {
        var rng = new Random(seed);
        WriteNode(0, 0, rng, 0, 0, []);
        var vram1 = (ulong)rng.Next(8, 256) << 30;
        var vram2 = (ulong)rng.Next(8, 256) << 30;
        var p1 = WriteNode(1, 0x1a2b, rng, vram1, heapType: 1, [(11, 0), (11, 2)]);
        var p2 = WriteNode(2, 0x5c3d, rng, vram2, heapType: 2, [(11, 0)]);

        var gpus = KfdSysfsTopology.Read(_root.FullName);

        Assert.Equal(2, gpus.Count);
        var (g1, g2) = (gpus[0], gpus[1]);
        Assert.Equal((1u, 0x1a2bu, 2u, 0x5c3du), (g1.NodeId, g1.GpuId, g2.NodeId, g2.GpuId));
        Assert.Equal((vram1, 1u), (g1.VramSize, g1.VramPublic));
        Assert.Equal((vram2, 0u), (g2.VramSize, g2.VramPublic));
        Assert.Equal([new IoLink(11, 0), new IoLink(11, 2)], g1.IoLinks);
        Assert.Equal([new IoLink(11, 0)], g2.IoLinks);
        foreach (var (g, p) in new[] { (g1, p1), (g2, p2) })
        {
            var because = $"seed {seed}, gpu 0x{g.GpuId:x}";
            Assert.True(p["simd_count"] == g.SimdCount, because);
            Assert.True(p["device_id"] == g.DeviceId, because);
            Assert.True(p["vendor_id"] == g.VendorId, because);
            Assert.True(p["caches_count"] == g.CachesCount, because);
            Assert.True(p["io_links_count"] == g.IoLinksCount, because);
            Assert.True(p["max_waves_per_simd"] == g.MaxWavesPerSimd, because);
            Assert.True(p["lds_size_in_kb"] == g.LdsSizeInKb, because);
            Assert.True(p["num_gws"] == g.NumGws, because);
            Assert.True(p["wave_front_size"] == g.WaveFrontSize, because);
            Assert.True(p["array_count"] == g.ArrayCount, because);
            Assert.True(p["simd_arrays_per_engine"] == g.SimdArraysPerEngine, because);
            Assert.True(p["cu_per_simd_array"] == g.CuPerSimdArray, because);
            Assert.True(p["simd_per_cu"] == g.SimdPerCu, because);
            Assert.True(p["max_slots_scratch_cu"] == g.MaxSlotsScratchCu, because);
            Assert.True(p["domain"] == g.Domain, because);
            Assert.True(p["drm_render_minor"] == g.DrmRenderMinor, because);
            Assert.True(p["hive_id"] == g.HiveId, because);
            Assert.True(p["num_sdma_engines"] == g.NumSdmaEngines, because);
            Assert.True(p["num_sdma_xgmi_engines"] == g.NumSdmaXgmiEngines, because);
            Assert.True(p["num_sdma_queues_per_engine"] == g.NumSdmaQueuesPerEngine, because);
            Assert.True(p["num_cp_queues"] == g.NumCpQueues, because);
            Assert.True(p["fw_version"] == g.FwVersion, because);
            Assert.True(p["capability"] == g.Capability, because);
            Assert.True(p["sdma_fw_version"] == g.SdmaFwVersion, because);
            Assert.True(p["cpu_cores_count"] == g.CpuCoresCount, because);
        }
    }

    [Fact]
    public void A_malformed_property_is_reported_with_file_and_line()
    {
        var rng = new Random(103);
        WriteNode(1, 0x1a2b, rng, 1UL << 34, 1, []);
        var file = Path.Combine(_root.FullName, "nodes", "1", "properties");
        var lines = File.ReadAllLines(file).ToList();
        lines.Insert(2, "simd_count lots");
        File.WriteAllLines(file, lines);

        var e = Assert.Throws<InvalidDataException>(() => KfdSysfsTopology.Read(_root.FullName));

        Assert.Equal($"{file}:3: not a 'name value' property: 'simd_count lots'", e.Message);
    }

    [Fact]
    public void A_missing_property_is_named()
    {
        var rng = new Random(104);
        WriteNode(1, 0x1a2b, rng, 1UL << 34, 1, []);
        var file = Path.Combine(_root.FullName, "nodes", "1", "properties");
        File.WriteAllLines(file, File.ReadAllLines(file).Where(l => !l.StartsWith("num_cp_queues ", StringComparison.Ordinal)));

        var e = Assert.Throws<InvalidDataException>(() => KfdSysfsTopology.Read(_root.FullName));

        Assert.Equal($"{file}: no num_cp_queues property", e.Message);
    }

    [Fact]
    public void No_topology_directory_is_a_clear_ENOENT()
    {
        var e = Assert.Throws<DriverException>(() => KfdSysfsTopology.Read(Path.Combine(_root.FullName, "absent")));
        Assert.Equal(Errno.ENOENT, e.ErrorNumber);
        Assert.Contains("no KFD topology", e.Message);
    }
}
