using System.Globalization;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Devices.Linux;

/// <summary>
/// The nodes KFD reports under /sys/class/kfd/kfd/topology: nodes/N/{gpu_id,properties,mem_banks/*,io_links/*}.
/// A node with gpu_id 0 and at least one CPU core is a CPU (as CRIU's plugin reads it); the others are GPUs.
/// </summary>
public static class KfdSysfsTopology
{
    /// <summary>The GPUs, in node order.</summary>
    public static IReadOnlyList<GpuNode> Read(string root) => ReadMachine(root).Gpus;

    /// <summary>The GPUs and the CPU nodes, in node order.</summary>
    public static GpuTopology ReadMachine(string root)
    {
        var nodesDir = Path.Combine(root, "nodes");
        if (!Directory.Exists(nodesDir))
            throw new DriverException(Errno.ENOENT, "read topology", nodesDir, detail: "no KFD topology (is the amdgpu driver loaded?)");
        var gpus = new List<GpuNode>();
        var cpus = new List<CpuNode>();
        foreach (var (nodeId, dir) in Numbered(nodesDir))
        {
            var gpuId = ReadNumber(Path.Combine(dir, "gpu_id"));
            if (gpuId != 0)
            {
                gpus.Add(Node(nodeId, (uint)gpuId, dir));
                continue;
            }
            var cores = Properties(Path.Combine(dir, "properties")).GetValueOrDefault("cpu_cores_count");
            if (cores >= 1) cpus.Add(new CpuNode(nodeId, (uint)Math.Min(cores, uint.MaxValue), Links(dir)));
        }
        return new GpuTopology(gpus) { Cpus = cpus };
    }

    private static List<IoLink> Links(string nodeDir)
    {
        var links = new List<IoLink>();
        foreach (var (_, link) in Numbered(Path.Combine(nodeDir, "io_links")))
        {
            var l = Properties(Path.Combine(link, "properties"));
            links.Add(new IoLink((uint)l.GetValueOrDefault("type"), (uint)l.GetValueOrDefault("node_to")));
        }
        return links;
    }

    private static GpuNode Node(uint nodeId, uint gpuId, string dir)
    {
        var file = Path.Combine(dir, "properties");
        var p = Properties(file);
        uint U(string name) => p.TryGetValue(name, out var v)
            ? v <= uint.MaxValue ? (uint)v : throw new InvalidDataException($"{file}: {name} {v} does not fit 32 bits")
            : throw new InvalidDataException($"{file}: no {name} property");

        ulong vramSize = 0;
        uint vramPublic = 0;
        foreach (var (_, bank) in Numbered(Path.Combine(dir, "mem_banks")))
        {
            var b = Properties(Path.Combine(bank, "properties"));
            var heap = b.GetValueOrDefault("heap_type");
            if (heap is not (KfdSysfs.HeapTypeFrameBufferPublic or KfdSysfs.HeapTypeFrameBufferPrivate)) continue;
            vramSize = b.GetValueOrDefault("size_in_bytes");
            vramPublic = heap == KfdSysfs.HeapTypeFrameBufferPublic ? 1u : 0u;
        }

        var links = Links(dir);

        return new GpuNode
        {
            NodeId = nodeId,
            GpuId = gpuId,
            CpuCoresCount = U("cpu_cores_count"),
            SimdCount = U("simd_count"),
            MemBanksCount = U("mem_banks_count"),
            CachesCount = U("caches_count"),
            IoLinksCount = U("io_links_count"),
            MaxWavesPerSimd = U("max_waves_per_simd"),
            LdsSizeInKb = U("lds_size_in_kb"),
            NumGws = U("num_gws"),
            WaveFrontSize = U("wave_front_size"),
            ArrayCount = U("array_count"),
            SimdArraysPerEngine = U("simd_arrays_per_engine"),
            CuPerSimdArray = U("cu_per_simd_array"),
            SimdPerCu = U("simd_per_cu"),
            MaxSlotsScratchCu = U("max_slots_scratch_cu"),
            VendorId = U("vendor_id"),
            DeviceId = U("device_id"),
            Domain = U("domain"),
            DrmRenderMinor = U("drm_render_minor"),
            HiveId = p.TryGetValue("hive_id", out var hive) ? hive : throw new InvalidDataException($"{file}: no hive_id property"),
            NumSdmaEngines = U("num_sdma_engines"),
            NumSdmaXgmiEngines = U("num_sdma_xgmi_engines"),
            NumSdmaQueuesPerEngine = U("num_sdma_queues_per_engine"),
            NumCpQueues = U("num_cp_queues"),
            FwVersion = U("fw_version"),
            Capability = U("capability"),
            SdmaFwVersion = U("sdma_fw_version"),
            VramPublic = vramPublic,
            VramSize = vramSize,
            IoLinks = links,
        };
    }

    /// <summary>"name value" lines; values are unsigned decimal (KFD prints them with %llu/%u).</summary>
    public static Dictionary<string, ulong> Properties(string file)
    {
        var result = new Dictionary<string, ulong>(StringComparer.Ordinal);
        var lineNo = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNo++;
            if (line.Length == 0) continue;
            var space = line.IndexOf(' ');
            if (space <= 0 || !ulong.TryParse(line.AsSpan(space + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                throw new InvalidDataException($"{file}:{lineNo}: not a 'name value' property: '{line}'");
            result[line[..space]] = value;
        }
        return result;
    }

    private static ulong ReadNumber(string file)
    {
        var text = File.ReadAllText(file).Trim();
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new InvalidDataException($"{file}: not a number: '{text}'");
    }

    /// <summary>The numbered subdirectories of <paramref name="dir"/> in numeric order; none when it does not exist.</summary>
    private static IEnumerable<(uint Index, string Dir)> Numbered(string dir) =>
        !Directory.Exists(dir)
            ? []
            : Directory.GetDirectories(dir)
                .Select(d => (Ok: uint.TryParse(Path.GetFileName(d), out var n), N: n, D: d))
                .Where(x => x.Ok).OrderBy(x => x.N).Select(x => (x.N, x.D));
}
