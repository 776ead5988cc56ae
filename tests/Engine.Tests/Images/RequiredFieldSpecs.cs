using Google.Protobuf;
using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class RequiredFieldSpecs
{
    [Fact]
    public void A_message_with_an_unset_required_field_is_refused_naming_the_field()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-req-{Guid.NewGuid():N}");
        try
        {
            using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
            var node = new CriuRenderNode { GpuId = 0x1234, Id = 2, DrmRenderMinor = 128, NumOfBos = 1 };
            node.BoEntries.Add(new DrmBoEntry { Addr = 0x1000, Size = 0x2000, Offset = 0, AllocFlags = 0, Alignment = 4096, PreferredDomains = 4, IsImport = 0, NumOfVms = 0 });

            var e = Assert.Throws<ArgumentException>(() => writer.WriteMessage(ImageFileName.RenderNode(2), node));
            Assert.Equal("amdgpu-renderD-2.img: required fields unset, CRIU could not read the file: bo_entries[0].handle", e.Message);
            node.BoEntries[0].Handle = 3;
            writer.WriteMessage(ImageFileName.RenderNode(2), node);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_gpu_survives_the_trip_through_its_device_entry()
    {
        var seed = TestSeed.Fresh();
        var r = new Random(seed);
        uint U() => (uint)r.Next(1, int.MaxValue);
        var gpu = new GpuNode
        {
            NodeId = U(), GpuId = U(), CpuCoresCount = 0, SimdCount = U(), MemBanksCount = U(), CachesCount = U(), IoLinksCount = 2,
            MaxWavesPerSimd = U(), LdsSizeInKb = U(), NumGws = U(), WaveFrontSize = U(), ArrayCount = U(), SimdArraysPerEngine = U(),
            CuPerSimdArray = U(), SimdPerCu = U(), MaxSlotsScratchCu = U(), VendorId = U(), DeviceId = U(), Domain = U(),
            DrmRenderMinor = U(), HiveId = (ulong)r.NextInt64(), NumSdmaEngines = U(), NumSdmaXgmiEngines = U(),
            NumSdmaQueuesPerEngine = U(), NumCpQueues = U(), FwVersion = U(), Capability = U(), SdmaFwVersion = U(),
            VramPublic = U(), VramSize = (ulong)r.NextInt64(), IoLinks = [new IoLink(IoLink.Pcie, U()), new IoLink(IoLink.Xgmi, U())],
        };
        var entry = gpu.ToDeviceEntry();
        Assert.Empty(RequiredFields.Missing(entry));
        var back = KfdDeviceEntry.Parser.ParseFrom(entry.ToByteArray()).ToGpuNode();
        Assert.True(JsonSerializer.Serialize(gpu, GpuNode.Json) == JsonSerializer.Serialize(back, GpuNode.Json), $"seed {seed}");

        // An APU's cores and links of other kinds or to nodes not saved do not reach the entry: the plugin would misread them.
        var apu = gpu with { CpuCoresCount = U(), IoLinks = [.. gpu.IoLinks, new IoLink(1, U())] };
        var saved = apu.ToDeviceEntry(new HashSet<uint> { gpu.IoLinks[0].NodeToId });
        Assert.True(saved.CpuCoresCount == 0 && !saved.IsCpu(), $"seed {seed}");
        Assert.Equal([gpu.IoLinks[0].NodeToId], saved.Iolinks.Select(l => l.NodeToId));
    }
}
