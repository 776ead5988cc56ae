using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>The named workloads, each a seeded generator of a <see cref="WorkloadSpec"/>.</summary>
public static class WorkloadCatalog
{
    public static readonly IReadOnlyList<string> Names = ["tiny", "train", "many-bos", "serve"];

    public static WorkloadSpec Create(WorkloadRequest request)
    {
        if (request.SpecJson is not null) return WorkloadSpec.Parse(request.SpecJson);
        return request.Workload switch
        {
            "tiny" => Tiny(request.Seed, request.SizeBytes ?? (4UL << 20)),
            "train" => Train(request.Seed, request.SizeBytes ?? (1UL << 30)),
            "many-bos" => ManyBos(request.Seed, request.Bos ?? 2000, request.SizeBytes),
            "serve" => Serve(request.Seed, request.SizeBytes ?? (1UL << 30)),
            null => throw new InvalidDataException("no workload: give a workload name or a spec"),
            var other => throw new InvalidDataException($"unknown workload '{other}': {string.Join(", ", Names)}"),
        };
    }

    /// <summary>1 GPU, 10 KFD BOs (VRAM, GTT, userptr, doorbell) of a few MiB, a render BO importing a KFD BO.</summary>
    public static WorkloadSpec Tiny(ulong seed, ulong size)
    {
        var rng = Rng(seed, 1);
        var sizes = Split(rng, size, 8);
        var kfd = new List<KfdBoSpec>();
        for (var i = 0; i < 8; i++)
            kfd.Add(new KfdBoSpec { Gpu = 0, Domain = i < 6 ? "vram" : "gtt", Size = sizes[i], Writable = i != 7 });
        kfd.Add(new KfdBoSpec { Gpu = 0, Domain = "userptr", Size = 8192 });
        kfd.Add(new KfdBoSpec { Gpu = 0, Domain = "doorbell", Size = 8192 });
        var render = new List<RenderBoSpec>
        {
            new() { Gpu = 0, Import = "kfd:0", Mappings = Mappings(rng, kfd[0].Size, 2) },
            new() { Gpu = 0, Domain = "gtt", Size = 16 * GpuMemory.PageSize, Mappings = Mappings(rng, 16 * GpuMemory.PageSize, 2) },
        };
        var links = new List<LinkSpec>();
        for (var i = 0; i < 7; i++)
            links.Add(new LinkSpec { Target = $"kfd:{i}", Inputs = i == 1 ? ["kfd:0", "render:1"] : [$"kfd:{(i + 7) % 8}"] });
        links.Add(new LinkSpec { Target = "render:1", Inputs = ["render:0", "kfd:7"] });
        return new WorkloadSpec { Gpus = 1, KfdBos = kfd, RenderBos = render, Links = links, PrivDataSize = 4096, Queues = 2, Events = 2 };
    }

    /// <summary>
    /// 2 GPUs, hundreds of BOs from 4 KiB to 64 MiB (about <paramref name="size"/> bytes), render BOs with 2-3 mappings,
    /// imports of KFD BOs on the same GPU and across GPUs, userptr/doorbell/MMIO BOs, 64 KiB of queue state.
    /// </summary>
    public static WorkloadSpec Train(ulong seed, ulong size)
    {
        var rng = Rng(seed, 2);
        const int contentBos = 240;
        // The fixed-size BOs are drawn first so the content BOs fill what is left of the requested size.
        var fixedRng = Rng(seed, 5);
        var userptrSizes = Enumerable.Range(0, 2).Select(_ => (ulong)fixedRng.Next(1, 32) * GpuMemory.PageSize).ToArray();
        var renderSizes = Enumerable.Range(0, 40).Select(_ => (ulong)fixedRng.Next(1, 257) * GpuMemory.PageSize).ToArray();
        var fixedBytes = userptrSizes.Concat(renderSizes).Aggregate(2 * 3 * GpuMemory.PageSize, (a, b) => a + b);
        var kfd = new List<KfdBoSpec>();
        var largest = Math.Max(GpuMemory.PageSize, Math.Min(64UL << 20, GpuMemory.PageAlign(size / 16)));
        var sizes = LogUniform(rng, contentBos, size > fixedBytes ? size - fixedBytes : 0, largest);
        for (var i = 0; i < contentBos; i++)
            kfd.Add(new KfdBoSpec { Gpu = i % 2, Domain = rng.Next(100) < 85 ? "vram" : "gtt", Size = sizes[i], Writable = rng.Next(100) < 90, Executable = rng.Next(100) < 5 });
        for (var g = 0; g < 2; g++)
        {
            kfd.Add(new KfdBoSpec { Gpu = g, Domain = "userptr", Size = userptrSizes[g] });
            kfd.Add(new KfdBoSpec { Gpu = g, Domain = "doorbell", Size = 2 * GpuMemory.PageSize });
            kfd.Add(new KfdBoSpec { Gpu = g, Domain = "mmio", Size = GpuMemory.PageSize });
        }
        var render = new List<RenderBoSpec>();
        for (var g = 0; g < 2; g++)
            for (var i = 0; i < 20; i++)
            {
                var s = renderSizes[g * 20 + i];
                render.Add(new RenderBoSpec
                {
                    Gpu = g, Domain = rng.Next(2) == 0 ? "vram" : "gtt", Size = s, Mappings = Mappings(rng, s, rng.Next(2, 4)),
                    Alignment = Alignments[i % Alignments.Length],
                });
            }
        for (var g = 0; g < 2; g++)
            for (var i = 0; i < 4; i++)
            {
                // A KFD BO of this GPU exported to its render node; distinct per GPU so no buffer is imported twice.
                var k = g + 2 * (5 * i + 1);
                render.Add(new RenderBoSpec { Gpu = g, Import = $"kfd:{k}", Mappings = Mappings(rng, kfd[k].Size, rng.Next(2, 4)) });
            }
        // A buffer shared between two GPUs: a KFD BO of GPU0 imported by GPU1's render node, and the reverse for a render BO.
        render.Add(new RenderBoSpec { Gpu = 1, Import = "kfd:0", Mappings = Mappings(rng, kfd[0].Size, 2) });
        render.Add(new RenderBoSpec { Gpu = 0, Import = "render:20", Mappings = Mappings(rng, render[20].Size, 2) });

        var sources = Enumerable.Range(0, contentBos).Select(i => $"kfd:{i}")
            .Concat(Enumerable.Range(0, render.Count).Select(i => $"render:{i}")).ToList();
        var links = new List<LinkSpec>();
        for (var i = 0; i < contentBos; i++)
            if (kfd[i].Writable)
                links.Add(new LinkSpec { Target = $"kfd:{i}", Inputs = Pick(rng, sources, rng.Next(1, 3)) });
        for (var i = 0; i < render.Count; i++)
            if (render[i].Import is null)
                links.Add(new LinkSpec { Target = $"render:{i}", Inputs = Pick(rng, sources, rng.Next(1, 3)) });
        return new WorkloadSpec { Gpus = 2, KfdBos = kfd, RenderBos = render, Links = links, PrivDataSize = 64 << 10, Queues = 8, Events = 16 };
    }

    /// <summary>1 GPU, <paramref name="bos"/> small KFD BOs (4-16 KiB, or about size/bos), a render BO per 20 and an import per 50.</summary>
    public static WorkloadSpec ManyBos(ulong seed, int bos, ulong? size)
    {
        if (bos < 2) throw new InvalidDataException($"many-bos needs at least 2 BOs, not {bos}");
        var rng = Rng(seed, 3);
        var maxPages = size is { } s ? Math.Max(1, (int)Math.Min(4096, 2 * s / (ulong)bos / GpuMemory.PageSize)) : 4;
        var kfd = Enumerable.Range(0, bos)
            .Select(i => new KfdBoSpec { Gpu = 0, Domain = i % 7 == 0 ? "gtt" : "vram", Size = (ulong)rng.Next(1, maxPages + 1) * GpuMemory.PageSize })
            .ToList();
        var render = new List<RenderBoSpec>();
        for (var i = 0; i < bos / 20; i++)
            render.Add(new RenderBoSpec { Gpu = 0, Domain = "gtt", Size = GpuMemory.PageSize * 2, Mappings = Mappings(rng, GpuMemory.PageSize * 2, 1) });
        for (var i = 0; i < bos / 50; i++)
            render.Add(new RenderBoSpec { Gpu = 0, Import = $"kfd:{i * 50 + 1}", Mappings = Mappings(rng, kfd[i * 50 + 1].Size, 1) });
        return new WorkloadSpec { Gpus = 1, KfdBos = kfd, RenderBos = render, Links = null, PrivDataSize = 8192, Queues = 4, Events = 4 };
    }

    /// <summary>
    /// An inference server on 1 GPU, about <paramref name="size"/> bytes: weights (7/8 of the memory, in 8 VRAM BOs) that
    /// nothing writes after they are loaded, and a KV cache of 32 BOs of which the 2 active ones (1/128 of the memory)
    /// are rewritten every step from the weights and themselves; a GTT render BO the CPU side reads results from.
    /// </summary>
    public static WorkloadSpec Serve(ulong seed, ulong size)
    {
        const int weights = 8, cache = 32, active = 2;
        var rng = Rng(seed, 4);
        var weightSize = Math.Max(GpuMemory.PageSize, GpuMemory.PageAlign(size / 8 * 7 / weights));
        var blockSize = Math.Max(GpuMemory.PageSize, GpuMemory.PageAlign(size / 8 / cache));
        var kfd = new List<KfdBoSpec>();
        for (var i = 0; i < weights; i++) kfd.Add(new KfdBoSpec { Gpu = 0, Domain = "vram", Size = weightSize, Writable = false });
        for (var i = 0; i < cache; i++) kfd.Add(new KfdBoSpec { Gpu = 0, Domain = "vram", Size = blockSize });
        kfd.Add(new KfdBoSpec { Gpu = 0, Domain = "doorbell", Size = 2 * GpuMemory.PageSize });
        var render = new List<RenderBoSpec>
        {
            new() { Gpu = 0, Domain = "gtt", Size = 4 * GpuMemory.PageSize, Mappings = Mappings(rng, 4 * GpuMemory.PageSize, 1) },
        };
        // Which cache blocks are active depends on the seed; they are the same every step, as a batch being decoded is.
        var links = Enumerable.Range(0, cache).OrderBy(_ => rng.Next()).Take(active)
            .Select(b => new LinkSpec { Target = $"kfd:{weights + b}", Inputs = [$"kfd:{rng.Next(weights)}", $"kfd:{weights + b}"] })
            .ToList();
        return new WorkloadSpec { Gpus = 1, KfdBos = kfd, RenderBos = render, Links = links, PrivDataSize = 16 << 10, Queues = 4, Events = 4 };
    }

    /// <summary>GEM_CREATE alignments render BOs ask for: none, a page, 64 KiB, 2 MiB (huge pages).</summary>
    private static readonly ulong[] Alignments = [0, GpuMemory.PageSize, 64 << 10, 2 << 20];

    internal static Random Rng(ulong seed, ulong salt) => new(unchecked((int)SimTopology.Mix64(seed * 31 + salt)));

    private static ulong[] Split(Random rng, ulong total, int parts)
    {
        var weights = Enumerable.Range(0, parts).Select(_ => rng.Next(1, 100)).ToArray();
        var sum = (ulong)weights.Sum();
        return weights.Select(w => Math.Max(GpuMemory.PageSize, GpuMemory.PageAlign(total * (ulong)w / sum))).ToArray();
    }

    /// <summary>
    /// Log-uniform sizes from a page up to <paramref name="largest"/>, one of each extreme, summing to
    /// <paramref name="total"/> within a page when the BOs can hold it.
    /// </summary>
    private static ulong[] LogUniform(Random rng, int count, ulong total, ulong largest)
    {
        var raw = Enumerable.Range(0, count - 2)
            .Select(_ => Math.Exp(Math.Log(GpuMemory.PageSize) + rng.NextDouble() * (Math.Log(largest) - Math.Log(GpuMemory.PageSize))))
            .ToArray();
        var rest = total > largest + GpuMemory.PageSize ? total - largest - GpuMemory.PageSize : 0;
        var scale = (double)rest / raw.Sum();
        var sizes = raw.Select(r => Math.Clamp(GpuMemory.PageAlign((ulong)(r * scale)), GpuMemory.PageSize, largest)).ToArray();
        // Page rounding and clamping leave a remainder: grow or shrink the BOs that have room, largest first.
        var sum = sizes.Aggregate(0UL, (a, b) => a + b);
        foreach (var i in Enumerable.Range(0, sizes.Length).OrderByDescending(i => sizes[i]).ToArray())
        {
            if (sum < rest)
            {
                var grow = Math.Min(largest - sizes[i], (rest - sum) / GpuMemory.PageSize * GpuMemory.PageSize);
                sizes[i] += grow; sum += grow;
            }
            else if (sum > rest)
            {
                var shrink = Math.Min(sizes[i] - GpuMemory.PageSize, GpuMemory.PageAlign(sum - rest));
                sizes[i] -= shrink; sum -= shrink;
            }
        }
        return sizes.Append(largest).Append(GpuMemory.PageSize).OrderBy(_ => rng.Next()).ToArray();
    }

    private static List<MappingSpec> Mappings(Random rng, ulong boSize, int count)
    {
        var pages = Math.Max(1, (long)(boSize / GpuMemory.PageSize));
        var list = new List<MappingSpec>();
        for (var i = 0; i < count; i++)
        {
            var first = rng.NextInt64(0, pages);
            var length = rng.NextInt64(1, Math.Min(pages - first, 64) + 1);
            var flags = Engine.Uapi.AmdgpuGem.VmPageReadable | (rng.Next(4) == 0 ? 0 : Engine.Uapi.AmdgpuGem.VmPageWriteable) | (rng.Next(8) == 0 ? Engine.Uapi.AmdgpuGem.VmPageExecutable : 0);
            list.Add(new MappingSpec { Offset = (ulong)first * GpuMemory.PageSize, Size = (ulong)length * GpuMemory.PageSize, Flags = flags });
        }
        return list;
    }

    private static List<string> Pick(Random rng, List<string> from, int count) =>
        Enumerable.Range(0, count).Select(_ => from[rng.Next(from.Count)]).ToList();
}
