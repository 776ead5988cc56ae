using Gpuckpt.Engine.Topology;
using Xunit;

namespace Gpuckpt.Engine.Tests.Topology;

public sealed class TopologyMatcherSpecs
{
    private const ulong GiB = 1UL << 30;

    /// <summary>A GPU model with seeded, non-zero properties; copies of it differ only in ids and what a test changes.</summary>
    private static GpuNode Model(Random rng) => new()
    {
        SimdCount = (uint)rng.Next(60, 440) * 4,
        MemBanksCount = 1,
        CachesCount = (uint)rng.Next(100, 300),
        IoLinksCount = (uint)rng.Next(1, 8),
        MaxWavesPerSimd = (uint)rng.Next(8, 16),
        LdsSizeInKb = 64,
        NumGws = 64,
        WaveFrontSize = 64,
        ArrayCount = (uint)rng.Next(4, 32),
        SimdArraysPerEngine = (uint)rng.Next(1, 4),
        CuPerSimdArray = (uint)rng.Next(8, 16),
        SimdPerCu = 4,
        MaxSlotsScratchCu = 32,
        VendorId = 0x1002,
        DeviceId = (uint)rng.Next(0x7300, 0x7500),
        NumSdmaEngines = (uint)rng.Next(2, 8),
        NumSdmaXgmiEngines = (uint)rng.Next(0, 6),
        NumSdmaQueuesPerEngine = 8,
        NumCpQueues = (uint)rng.Next(8, 32),
        FwVersion = (uint)rng.Next(100, 200),
        SdmaFwVersion = (uint)rng.Next(10, 40),
        Capability = 0x2000 | (uint)rng.Next(0, 0x100),
        VramPublic = 1,
        VramSize = (ulong)rng.Next(16, 192) * GiB,
    };

    private static GpuNode At(GpuNode model, uint gpuId, ulong hive = 0, uint node = 0) =>
        model with { GpuId = gpuId, HiveId = hive, NodeId = node, DrmRenderMinor = 128 + node };

    private static void AssertSameProperties(GpuNode image, GpuNode local, int seed) =>
        Assert.True(GpuCompatibility.Mismatches(image, local).Count == 0,
            $"seed {seed}: image 0x{image.GpuId:x} mapped to 0x{local.GpuId:x} that does not fit: " +
            string.Join(", ", GpuCompatibility.Mismatches(image, local)));

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Renumbered_compatible_target_maps_every_gpu_to_a_distinct_local_gpu_of_its_kind(int seed)
    {
        var rng = new Random(seed);
        var a = Model(rng);
        var b = Model(rng) with { DeviceId = a.DeviceId + 1 };
        var image = new[] { At(a, 0x1a2b, node: 1), At(b, 0x2b3c, node: 2), At(a, 0x3c4d, node: 3), At(b, 0x4d5e, node: 4) };
        var local = image.Select((g, i) => g with { GpuId = (uint)(0x9000 + rng.Next(1, 0xfff) * 4 + i), NodeId = (uint)(10 + i) })
            .OrderBy(_ => rng.Next()).ToArray();

        var map = TopologyMatcher.Match(image, local);

        Assert.Equal(image.Select(g => g.GpuId).Order(), map.ByUserGpuId.Keys.Order());
        Assert.Equal(4, map.ByUserGpuId.Values.Select(l => l.GpuId).Distinct().Count());
        foreach (var g in image)
        {
            AssertSameProperties(g, map[g.GpuId], seed);
            Assert.Equal(g.DeviceId, map[g.GpuId].DeviceId);
        }
    }

    [Fact]
    public void Same_machine_keeps_every_gpu_id()
    {
        var rng = new Random(21);
        var m = Model(rng);
        var gpus = new[] { At(m, 0x1111, node: 1), At(m, 0x2222, node: 2), At(m, 0x3333, node: 3) };
        var map = TopologyMatcher.Match(gpus, gpus.Reverse().ToArray());
        foreach (var g in gpus) Assert.Equal(g.GpuId, map.ActualGpuId(g.GpuId));
    }

    [Fact]
    public void Smaller_vram_is_refused_naming_vram_size_and_both_values()
    {
        var rng = new Random(31);
        var m = Model(rng);
        var image = new[] { At(m with { VramSize = 64 * GiB }, 0x1a2b) };
        var local = new[] { At(m with { VramSize = 32 * GiB }, 0x5c3d) };

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, local));

        Assert.Equal("image GPU 0x1a2b: no local GPU matches: vram_size 68719476736 > 34359738368 on local 0x5c3d", e.Message);
        Assert.Equal(0x1a2bu, e.ImageGpuId);
    }

    [Fact]
    public void Different_device_id_is_refused_naming_device_id()
    {
        var rng = new Random(41);
        var m = Model(rng);
        var image = new[] { At(m, 0x1a2b) };
        var local = new[] { At(m with { DeviceId = m.DeviceId + 0x10, VramSize = m.VramSize * 2 }, 0x5c3d) };

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, local));

        Assert.Equal($"image GPU 0x1a2b: no local GPU matches: device_id {m.DeviceId} != {m.DeviceId + 0x10} on local 0x5c3d", e.Message);
    }

    [Fact]
    public void The_closest_local_gpu_is_the_one_named()
    {
        var rng = new Random(42);
        var m = Model(rng);
        var image = new[] { At(m, 0x1a2b) };
        var far = At(m with { DeviceId = m.DeviceId + 1, SimdCount = m.SimdCount + 4, NumCpQueues = m.NumCpQueues + 1 }, 0x7777);
        var near = At(m with { FwVersion = m.FwVersion - 1 }, 0x5c3d);

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, [far, near]));

        Assert.Equal($"image GPU 0x1a2b: no local GPU matches: fw_version {m.FwVersion} > {m.FwVersion - 1} on local 0x5c3d", e.Message);
    }

    [Fact]
    public void Two_xgmi_hives_map_as_groups_even_where_first_fit_would_split_them()
    {
        var rng = new Random(51);
        var m = Model(rng);
        var image = new[]
        {
            At(m, 0x0a01, hive: 0xA, node: 1), At(m, 0x0a02, hive: 0xA, node: 2),
            At(m, 0x0b01, hive: 0xB, node: 3), At(m, 0x0b02, hive: 0xB, node: 4),
        };
        // Local hives interleaved: first fit, GPU by GPU, would put hive A on 0x5001 (hive X) and 0x6001 (hive Y).
        var local = new[]
        {
            At(m, 0x5001, hive: 0x58, node: 1), At(m, 0x6001, hive: 0x59, node: 2),
            At(m, 0x5002, hive: 0x58, node: 3), At(m, 0x6002, hive: 0x59, node: 4),
        };
        var firstFit = new List<GpuNode>();
        foreach (var g in image) firstFit.Add(local.First(l => !firstFit.Contains(l) && GpuCompatibility.Fits(g, l)));
        Assert.NotEqual(firstFit[0].HiveId, firstFit[1].HiveId);

        var map = TopologyMatcher.Match(image, local);

        Assert.Equal(map[0x0a01].HiveId, map[0x0a02].HiveId);
        Assert.Equal(map[0x0b01].HiveId, map[0x0b02].HiveId);
        Assert.NotEqual(map[0x0a01].HiveId, map[0x0b01].HiveId);
        Assert.Equal(map[0x0a01].HiveId, map.Hives[0xA]);
        Assert.Equal(map[0x0b01].HiveId, map.Hives[0xB]);
        Assert.Equal(4, map.ByUserGpuId.Values.Distinct().Count());
    }

    [Fact]
    public void A_hive_is_never_split_across_local_hives()
    {
        var rng = new Random(52);
        var m = Model(rng);
        var image = new[] { At(m, 0x0a01, hive: 0xA), At(m, 0x0a02, hive: 0xA), At(m, 0x0a03, hive: 0xA) };
        var local = new[]
        {
            At(m, 0x5001, hive: 0x58), At(m, 0x5002, hive: 0x58),
            At(m, 0x6001, hive: 0x59), At(m, 0x6002, hive: 0x59),
        };

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, local));

        Assert.StartsWith("image GPU 0x", e.Message);
        Assert.Contains("XGMI hive 0xa has 3 GPUs", e.Message);
    }

    [Fact]
    public void Backtracking_finds_the_assignment_first_fit_misses()
    {
        var rng = new Random(61);
        var m = Model(rng);
        var image = new[] { At(m with { VramSize = 16 * GiB }, 0x1001), At(m with { VramSize = 32 * GiB }, 0x1002) };
        var local = new[] { At(m with { VramSize = 32 * GiB }, 0x2001), At(m with { VramSize = 16 * GiB }, 0x2002) };
        // First fit gives 0x1001 the 32 GiB GPU and leaves 0x1002 nothing.
        Assert.Equal(0x2001u, local.First(l => GpuCompatibility.Fits(image[0], l)).GpuId);

        var map = TopologyMatcher.Match(image, local);

        Assert.Equal(0x2002u, map.ActualGpuId(0x1001));
        Assert.Equal(0x2001u, map.ActualGpuId(0x1002));
    }

    [Fact]
    public void Backtracking_undoes_a_hive_choice_that_strands_a_single_gpu()
    {
        var rng = new Random(62);
        var m = Model(rng);
        var big = m with { VramSize = 128 * GiB };
        // The image hive fits either local hive; the lone big GPU fits only in hive X, so the hive must go to Y.
        var image = new[] { At(m, 0x0a01, hive: 0xA), At(m, 0x0a02, hive: 0xA), At(big, 0x0c01) };
        var local = new[]
        {
            At(big, 0x5001, hive: 0x58), At(m, 0x5002, hive: 0x58),
            At(m, 0x6001, hive: 0x59), At(m, 0x6002, hive: 0x59),
        };

        var map = TopologyMatcher.Match(image, local);

        Assert.Equal(0x59UL, map.Hives[0xA]);
        Assert.Equal(0x5001u, map.ActualGpuId(0x0c01));
    }

    [Fact]
    public void More_image_gpus_than_local_gpus_is_refused_naming_an_image_gpu_and_the_counts()
    {
        var rng = new Random(71);
        var m = Model(rng);
        var image = new[] { At(m, 0x1001), At(m, 0x1002), At(m, 0x1003) };
        var local = new[] { At(m, 0x2001), At(m, 0x2002) };

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, local));

        Assert.Equal("image GPU 0x1003: no local GPU left: the image has 3 GPUs, this machine 2", e.Message);
    }

    [Fact]
    public void Gpus_that_all_fit_only_one_local_gpu_are_refused_naming_the_one_left_over()
    {
        var rng = new Random(72);
        var m = Model(rng);
        var image = new[] { At(m with { VramSize = 64 * GiB }, 0x1001), At(m with { VramSize = 64 * GiB }, 0x1002) };
        var local = new[] { At(m with { VramSize = 64 * GiB }, 0x2001), At(m with { VramSize = 32 * GiB }, 0x2002) };

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, local));

        Assert.Equal("image GPU 0x1002: no local GPU matches: every local GPU it fits (0x2001) is needed by another image GPU", e.Message);
    }

    [Fact]
    public void Capability_bits_outside_the_mask_do_not_matter_and_inside_it_do()
    {
        var rng = new Random(81);
        var m = Model(rng);
        var image = new[] { At(m, 0x1001) };
        Assert.Equal(0x2001u, TopologyMatcher.Match(image, [At(m with { Capability = m.Capability ^ 0x80 }, 0x2001)]).ActualGpuId(0x1001));
        var e = Assert.Throws<TopologyMismatchException>(() =>
            TopologyMatcher.Match(image, [At(m with { Capability = m.Capability ^ 0x08000000 }, 0x2001)]));
        Assert.Contains("capability", e.Message);
    }

    [Fact]
    public void Sixteen_gpus_that_cannot_all_be_placed_are_refused_without_trying_every_permutation()
    {
        var rng = new Random(91);
        var m = Model(rng);
        var image = Enumerable.Range(0, 16).Select(i => At(m, (uint)(0x1000 + i))).ToArray();
        var local = Enumerable.Range(0, 16).Select(i => At(i == 7 ? m with { VramSize = m.VramSize / 2 } : m, (uint)(0x2000 + i))).ToArray();
        var steps = new System.Runtime.CompilerServices.StrongBox<long>();

        var e = Assert.Throws<TopologyMismatchException>(() => TopologyMatcher.Match(image, local, steps));

        // Augmenting paths try each (image, local) pair at most once per image GPU: 16^3, where permutations are 16!.
        Assert.True(steps.Value <= 16 * 16 * 16, $"the search tried {steps.Value} pairs");
        Assert.Contains("is needed by another image GPU", e.Message);
        Assert.DoesNotContain("0x2007", e.Message);
    }
}
