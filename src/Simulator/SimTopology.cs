using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Simulator;

/// <summary>Generated machines of identical GPUs in one XGMI hive; the id seed makes gpu ids and render minors differ.</summary>
public static class SimTopology
{
    public const uint XgmiLinkType = IoLink.Xgmi;
    public const ulong DefaultVramSize = 64UL << 30;

    /// <summary>The one CPU node (node 0) of a generated machine: its cores, a PCIe link to every GPU.</summary>
    public const uint CpuCores = 64;

    /// <summary><paramref name="gpus"/> identical GPUs; distinct gpu ids and render minors derived from <paramref name="idSeed"/>.</summary>
    public static GpuTopology Generate(int gpus, uint idSeed, ulong vramSize = DefaultVramSize)
    {
        if (gpus is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(gpus), gpus, "between 1 and 64 GPUs");
        var ids = new HashSet<uint>();
        var nodes = new List<GpuNode>(gpus);
        var hive = Mix64(0x48495645UL ^ idSeed) | 1;
        for (var k = 0; k < gpus; k++)
        {
            // KFD gpu ids are 16-bit hashes of the device; keep ours non-zero and distinct.
            var salt = 0UL;
            uint id;
            do id = (uint)(Mix64(((ulong)idSeed << 32) ^ (ulong)k ^ (salt++ << 48)) % 0xfff0) + 0x10;
            while (!ids.Add(id));
            var nodeId = (uint)k + 1;
            nodes.Add(new GpuNode
            {
                NodeId = nodeId,
                GpuId = id,
                CpuCoresCount = 0,
                SimdCount = 416,
                MemBanksCount = 1,
                CachesCount = 3,
                IoLinksCount = (uint)gpus,
                MaxWavesPerSimd = 8,
                LdsSizeInKb = 64,
                NumGws = 64,
                WaveFrontSize = 64,
                ArrayCount = 8,
                SimdArraysPerEngine = 1,
                CuPerSimdArray = 13,
                SimdPerCu = 4,
                MaxSlotsScratchCu = 32,
                VendorId = 0x1002,
                DeviceId = 0x740f,
                Domain = 0,
                DrmRenderMinor = 128 + (uint)((idSeed * (ulong)gpus + (ulong)k) % 128),
                HiveId = hive,
                NumSdmaEngines = 4,
                NumSdmaXgmiEngines = 4,
                NumSdmaQueuesPerEngine = 8,
                NumCpQueues = 24,
                FwVersion = 95,
                Capability = 0x2fb8a280,
                SdmaFwVersion = 18,
                VramPublic = 1,
                VramSize = vramSize,
                IoLinks = [new IoLink(IoLink.Pcie, 0), .. Enumerable.Range(1, gpus).Where(n => n != (int)nodeId).Select(n => new IoLink(XgmiLinkType, (uint)n))],
            });
        }
        return new GpuTopology(nodes)
        {
            Cpus = [new CpuNode(0, CpuCores, [.. nodes.Select(g => new IoLink(IoLink.Pcie, g.NodeId))])],
        };
    }

    internal static ulong Mix64(ulong x)
    {
        x ^= x >> 30; x *= 0xbf58476d1ce4e5b9UL;
        x ^= x >> 27; x *= 0x94d049bb133111ebUL;
        return x ^ (x >> 31);
    }
}
