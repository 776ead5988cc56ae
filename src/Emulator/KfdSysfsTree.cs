using System.Globalization;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Emulator;

/// <summary>Writes a machine's topology as KFD lays it out under /sys/class/kfd/kfd/topology: nodes/N/{gpu_id,properties,mem_banks,io_links}.</summary>
internal static class KfdSysfsTree
{
    public static void Write(string root, GpuTopology machine)
    {
        var nodes = Directory.CreateDirectory(Path.Combine(root, "nodes")).FullName;
        foreach (var cpu in machine.Cpus)
            Node(nodes, cpu.NodeId, 0, [("cpu_cores_count", cpu.CpuCoresCount), ("simd_count", 0), ("mem_banks_count", 1), ("io_links_count", (ulong)cpu.IoLinks.Count)],
                cpu.IoLinks, heap: 0, size: 64UL << 30);
        foreach (var g in machine.Gpus)
            Node(nodes, g.NodeId, g.GpuId,
            [
                ("cpu_cores_count", g.CpuCoresCount), ("simd_count", g.SimdCount), ("mem_banks_count", g.MemBanksCount),
                ("caches_count", g.CachesCount), ("io_links_count", g.IoLinksCount), ("max_waves_per_simd", g.MaxWavesPerSimd),
                ("lds_size_in_kb", g.LdsSizeInKb), ("gds_size_in_kb", g.GdsSizeInKb), ("num_gws", g.NumGws),
                ("wave_front_size", g.WaveFrontSize), ("array_count", g.ArrayCount), ("simd_arrays_per_engine", g.SimdArraysPerEngine),
                ("cu_per_simd_array", g.CuPerSimdArray), ("simd_per_cu", g.SimdPerCu), ("max_slots_scratch_cu", g.MaxSlotsScratchCu),
                ("vendor_id", g.VendorId), ("device_id", g.DeviceId), ("domain", g.Domain), ("drm_render_minor", g.DrmRenderMinor),
                ("hive_id", g.HiveId), ("num_sdma_engines", g.NumSdmaEngines), ("num_sdma_xgmi_engines", g.NumSdmaXgmiEngines),
                ("num_sdma_queues_per_engine", g.NumSdmaQueuesPerEngine), ("num_cp_queues", g.NumCpQueues), ("fw_version", g.FwVersion),
                ("capability", g.Capability), ("sdma_fw_version", g.SdmaFwVersion),
            ], g.IoLinks, heap: g.VramPublic != 0 ? 1u : 2u, size: g.VramSize);
    }

    private static void Node(string nodes, uint id, uint gpuId, (string Name, ulong Value)[] properties, IReadOnlyList<IoLink> links, uint heap, ulong size)
    {
        var dir = Directory.CreateDirectory(Path.Combine(nodes, id.ToString(CultureInfo.InvariantCulture))).FullName;
        File.WriteAllText(Path.Combine(dir, "gpu_id"), $"{gpuId}\n");
        File.WriteAllLines(Path.Combine(dir, "properties"), properties.Select(p => $"{p.Name} {p.Value}"));
        var bank = Directory.CreateDirectory(Path.Combine(dir, "mem_banks", "0")).FullName;
        // A CPU node's bank is system memory (heap type 0); a GPU's is its frame buffer, public or private.
        File.WriteAllText(Path.Combine(bank, "properties"), $"heap_type {heap}\nsize_in_bytes {size}\nflags 0\nwidth 64\nmem_clk_max 1600\n");
        for (var i = 0; i < links.Count; i++)
        {
            var link = Directory.CreateDirectory(Path.Combine(dir, "io_links", i.ToString(CultureInfo.InvariantCulture))).FullName;
            File.WriteAllText(Path.Combine(link, "properties"),
                $"type {links[i].Type}\nversion_major 0\nversion_minor 0\nnode_from {id}\nnode_to {links[i].NodeToId}\nweight 20\n");
        }
    }
}
