using Google.Protobuf;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>A small image with seeded random contents: two GPUs, KFD BOs, two render nodes with mappings, an import.</summary>
public sealed class SampleImage : IDisposable
{
    public const int KfdId = 1, RenderAId = 2, RenderBId = 3, DmabufId = 1000;

    public SampleImage(int seed, bool commit = true)
    {
        Seed = seed;
        Random = new Random(seed);
        Directory = Path.Combine(Path.GetTempPath(), $"gpuckpt-img-{seed}-{Guid.NewGuid():N}");
        Gpus = [MakeGpu(0x1a2b, 128, 1, 2), MakeGpu(0x3c4d, 129, 2, 1)];
        Kfd = MakeKfd();
        RenderA = MakeRenderNode(RenderAId, Gpus[0]);
        RenderB = MakeRenderNode(RenderBId, Gpus[1]);
        Dmabuf = new CriuDmabufNode { GemHandle = RenderB.BoEntries[0].Handle };
        Links = [ImportLink.FromKfd(RenderBId, RenderB.BoEntries[0].Handle, Gpus[0].GpuId, Kfd.BoEntries[0].Addr)];

        Writer = ImageWriter.Create(Directory, new ImageHeader($"img-{seed}", new ImageSource("sim:/tmp/sim.sock", 4242), Gpus));
        Writer.WriteMessage(ImageFileName.Kfd(KfdId), Kfd);
        Writer.WriteMessage(ImageFileName.RenderNode(RenderAId), RenderA);
        Writer.WriteMessage(ImageFileName.RenderNode(RenderBId), RenderB);
        Writer.WriteMessage(ImageFileName.Dmabuf(DmabufId), Dmabuf);
        // Every file the image's BOs need, as the checkpoint writes them: one page file per GPU, one per non-import render BO.
        var chunkSize = Random.Next(1, 5) * 4096;
        foreach (var gpu in Gpus)
        {
            var name = ImageFileName.KfdPages(KfdId, gpu.GpuId);
            var bytes = Kfd.BoEntries.Where(b => b.GpuId == gpu.GpuId).Sum(b => (long)b.Size);
            Pages[name] = WritePages(name, bytes, chunkSize);
        }
        foreach (var node in new[] { RenderA, RenderB })
            for (var i = 0; i < node.BoEntries.Count; i++)
                if (node.BoEntries[i].IsImport == 0)
                {
                    var drm = ImageFileName.DrmPages((int)node.Id, node.DrmRenderMinor, i);
                    Pages[drm] = WritePages(drm, (long)node.BoEntries[i].Size, chunkSize);
                }
        if (commit) Writer.Commit(Links, new Dictionary<string, string> { ["note"] = "sample" });
    }

    public int Seed { get; }
    public Random Random { get; }
    public string Directory { get; }
    public ImageWriter Writer { get; }
    public IReadOnlyList<GpuNode> Gpus { get; }
    public CriuKfd Kfd { get; }
    public CriuRenderNode RenderA { get; }
    public CriuRenderNode RenderB { get; }
    public CriuDmabufNode Dmabuf { get; }
    public IReadOnlyList<ImageLink> Links { get; }

    /// <summary>Each pages file's payload and the (offset, length) chunks it was written in.</summary>
    public Dictionary<string, (byte[] Payload, List<(long Offset, int Length)> Chunks)> Pages { get; } = [];

    /// <summary>Every file of the image: the KFD file, two render nodes, the dmabuf file and the page files.</summary>
    public int FileCount => 4 + Pages.Count;

    public string FilePath(string file) => Path.Combine(Directory, file);

    public string Why => $"seed {Seed}";

    public void Dispose()
    {
        Writer.Dispose();
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>Writes random chunks (the second all-zero) from several threads at once, in shuffled order.</summary>
    private (byte[], List<(long, int)>) WritePages(string name, long length, int chunkSize)
    {
        var payload = new byte[length];
        Random.NextBytes(payload);
        var chunks = new List<(long Offset, int Length)>();
        for (long o = 0; o < payload.Length; o += chunkSize) chunks.Add((o, (int)Math.Min(chunkSize, payload.Length - o)));
        if (chunks.Count > 1) Array.Clear(payload, (int)chunks[1].Offset, chunks[1].Length);
        var file = Writer.OpenPages(name, payload.Length);
        var order = chunks.ToArray();
        Random.Shuffle(order);
        Parallel.ForEach(order, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            c => file.Write(c.Offset, payload.AsSpan((int)c.Offset, c.Length)));
        return (payload, chunks);
    }

    private GpuNode MakeGpu(uint gpuId, uint minor, uint node, uint peer) => new()
    {
        NodeId = node, GpuId = gpuId, SimdCount = (uint)Random.Next(64, 512), DeviceId = 0x740f,
        VendorId = 0x1002, DrmRenderMinor = minor, HiveId = (ulong)Random.NextInt64(), VramSize = (ulong)Random.Next(8, 192) << 30,
        NumSdmaEngines = 2, NumCpQueues = 24, FwVersion = (uint)Random.Next(), IoLinksCount = 1, IoLinks = [new IoLink(11, peer)],
    };

    private CriuKfd MakeKfd()
    {
        var kfd = new CriuKfd
        {
            Pid = (uint)Random.Next(100, 1 << 22), NumOfGpus = (uint)Gpus.Count, NumOfCpus = 0, NumOfObjects = 7,
            SharedMemSize = (ulong)Random.Next(1, 1 << 20), SharedMemMagic = 0x43524955, PrivData = ByteString.CopyFrom(RandomBytes(300)),
        };
        var nodes = Gpus.Select(g => g.NodeId).ToHashSet();
        foreach (var g in Gpus) kfd.DeviceEntries.Add(g.ToDeviceEntry(nodes));
        for (var i = 0; i < 6; i++)
            kfd.BoEntries.Add(new KfdBoEntry
            {
                Addr = (ulong)Random.NextInt64(1L << 40, 1L << 47) & ~0xfffUL, Size = (ulong)Random.Next(4, 16) << 12,
                Offset = (ulong)Random.NextInt64(), AllocFlags = i % 3 == 0 ? 1u : 2u, GpuId = Gpus[i % 2].GpuId, Handle = (uint)Random.Next(),
            });
        kfd.NumOfBos = (ulong)kfd.BoEntries.Count;
        return kfd;
    }

    private CriuRenderNode MakeRenderNode(int id, GpuNode gpu)
    {
        var node = new CriuRenderNode { GpuId = gpu.GpuId, Id = (uint)id, DrmRenderMinor = gpu.DrmRenderMinor };
        for (var i = 0; i < 3; i++)
        {
            var bo = new DrmBoEntry
            {
                Addr = (ulong)Random.NextInt64(1L << 32, 1L << 46), Size = (ulong)Random.Next(1, 8) << 12, Offset = (ulong)Random.NextInt64(),
                AllocFlags = (ulong)Random.Next(), Alignment = 4096, PreferredDomains = i == 0 ? 4u : 2u, Handle = (uint)(i + 1 + Random.Next(0, 300) * 3),
                IsImport = (uint)(id == RenderBId && i == 0 ? 1 : 0),
            };
            for (var v = 0; v < 1 + i; v++)
                bo.VmEntries.Add(new DrmVmEntry { Addr = (ulong)Random.NextInt64(1L << 32, 1L << 46), Size = bo.Size, Offset = 0, Flags = 0xe });
            bo.NumOfVms = (uint)bo.VmEntries.Count;
            node.BoEntries.Add(bo);
        }
        node.NumOfBos = (ulong)node.BoEntries.Count;
        return node;
    }

    private byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        Random.NextBytes(b);
        return b;
    }
}
