using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Tests.Simulation;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// An image of ours, decoded by field number as CRIU's criu-amdgpu.proto numbers them (protoc --decode_raw, not our
/// classes), means what the plugin means: each field is checked against the simulated driver's own state.
/// </summary>
public sealed class ImageFieldMeaningSpecs : IDisposable
{
    // Field numbers of the plugin's schema (criu-amdgpu.proto).
    private const int KfdPid = 1, KfdNumOfGpus = 2, KfdNumOfCpus = 3, KfdDeviceEntries = 4, KfdBoEntries = 6;
    private const int DevNodeId = 1, DevGpuId = 2, DevCpuCores = 3, DevIoLinks = 32, LinkType = 1, LinkNodeTo = 2;
    private const int BoAddr = 1, BoSize = 2, BoGpuId = 5, BoHandle = 6;
    private const int RenderGpuId = 1, RenderId = 2, RenderMinor = 3, RenderBos = 5;
    private const int DrmAddr = 1, DrmSize = 2, DrmAlignment = 5, DrmHandle = 7, DrmIsImport = 8, DrmNumOfVms = 9, DrmVms = 10;
    private const int VmAddr = 1, VmSize = 2, VmOffset = 3;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-meaning-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>Three APU-like GPUs (each with CPU cores of its own) and a link of a kind the plugin drops; train uses two.</summary>
    private static GpuTopology Machine()
    {
        var generated = SimTopology.Generate(3, 23);
        return generated with
        {
            Gpus = [.. generated.Gpus.Select(g => g with { CpuCoresCount = 12, IoLinks = [.. g.IoLinks, new IoLink(1, 0)], IoLinksCount = (uint)g.IoLinks.Count + 1 })],
        };
    }

    [ProtocFact]
    public void Every_field_of_a_train_image_means_to_the_plugin_what_the_simulated_driver_holds()
    {
        var seed = (ulong)TestSeed.Fresh();
        using var sim = new TestSimulator(topology: Machine());
        var pid = sim.Client.Spawn(WorkloadRequest.Named("train", seed, sizeBytes: 48UL << 20));
        sim.Client.Run(pid, 2);
        var images = Path.Combine(_dir.FullName, "image");
        var checkpoint = GpuckptProcess.Run("checkpoint", "--driver", $"sim:{sim.SocketPath}", "--pid", $"{pid}", "--images", images,
            "--json", "--state-dir", Path.Combine(_dir.FullName, "state"));
        Assert.True(checkpoint.ExitCode == 0, $"seed {seed}: checkpoint exited {checkpoint}");
        var because = $"seed {seed}";

        var model = sim.Server.Model;
        lock (model.Lock)
        {
            var p = model.Process(pid);
            var kfd = Protoc.DecodeRaw(Payload(images, ImageFileName.Kfd(1)));

            // Device entries: the CPU node, then the process's GPUs; no cores on GPU entries; only PCIe/XGMI links to saved nodes.
            var gpus = p.Devices.Select(d => d.Gpu.Node).ToList();
            var saved = gpus.Select(g => g.NodeId).Append(0u).ToHashSet();
            var entries = kfd.All(KfdDeviceEntries).ToList();
            Assert.Equal("1", kfd.One(KfdNumOfCpus));
            Assert.Equal($"{gpus.Count}", kfd.One(KfdNumOfGpus));
            Assert.Equal(saved.Order().Select(n => $"{n}"), entries.Select(e => e.One(DevNodeId)));
            var cpu = entries.Single(e => e.One(DevGpuId) == "0");
            Assert.Equal($"{SimTopology.CpuCores}", cpu.One(DevCpuCores));
            foreach (var e in entries.Where(e => e.One(DevGpuId) != "0"))
            {
                Assert.Equal("0", e.One(DevCpuCores));
                var node = gpus.Single(g => $"{g.NodeId}" == e.One(DevNodeId));
                var expected = node.IoLinks.Where(l => l.Type is IoLink.Pcie or IoLink.Xgmi && saved.Contains(l.NodeToId)).Select(l => $"{l.Type}:{l.NodeToId}");
                Assert.Equal(expected, e.All(DevIoLinks).Select(l => $"{l.One(LinkType)}:{l.One(LinkNodeTo)}"));
                Assert.DoesNotContain(e.All(DevIoLinks), l => l.One(LinkNodeTo) == "3");
            }
            Assert.Equal(gpus.Select(g => g.IoLinks.Count(l => l.NodeToId != 3 && l.Type != 1)).Sum() + 2,
                entries.Sum(e => e.All(DevIoLinks).Count()));

            // kfd_bo_entry.handle: the GEM handle a render file holds the BO's buffer under (its own GPU's first), else -1.
            var bos = kfd.All(KfdBoEntries).ToList();
            Assert.Equal(p.KfdBos.Count, bos.Count);
            var bound = 0;
            for (var i = 0; i < bos.Count; i++)
            {
                var truth = p.KfdBos[i];
                Assert.Equal($"0x{truth.Addr:x}", $"0x{ulong.Parse(bos[i].One(BoAddr)):x}");
                var holders = p.RenderFiles.Values.OrderBy(f => f.Gpu == truth.Gpu ? 0 : 1)
                    .SelectMany(f => f.Handles.Values).Where(b => truth.Buffer is not null && b.Buffer == truth.Buffer).ToList();
                var expected = holders.Count > 0 ? holders[0].Handle : 0xFFFFFFFF;
                Assert.True($"{expected}" == bos[i].One(BoHandle), $"{because}: KFD BO #{i} at 0x{truth.Addr:x}: handle {bos[i].One(BoHandle)}, the driver holds it under {expected}");
                if (holders.Count > 0) bound++;
            }
            var kfdImports = p.RenderFiles.Values.SelectMany(f => f.Handles.Values).Count(b => b.IsImport && p.KfdBos.Any(k => k.Buffer == b.Buffer));
            Assert.Equal(9, kfdImports);
            Assert.Equal(kfdImports, bound);

            // Render nodes: handles, alignment, import flag, mappings in bytes, addr of the last mapping; drm-pages of every BO with contents.
            var files = Directory.GetFiles(images).Select(Path.GetFileName).ToList();
            Assert.DoesNotContain(files, f => f!.StartsWith("amdgpu-dmabuf_", StringComparison.Ordinal));
            var imports = 0;
            foreach (var name in files.Where(f => f!.StartsWith("amdgpu-renderD-", StringComparison.Ordinal)))
            {
                var node = Protoc.DecodeRaw(Payload(images, name!));
                var id = int.Parse(node.One(RenderId));
                var file = p.RenderFiles[(uint.Parse(node.One(RenderMinor)), 0)];
                Assert.Equal($"{p.UserIdOf(file.Gpu)}", node.One(RenderGpuId));
                var entriesOf = node.All(RenderBos).ToList();
                Assert.Equal(file.Handles.Values.Select(b => $"{b.Handle}"), entriesOf.Select(e => e.One(DrmHandle)));
                for (var k = 0; k < entriesOf.Count; k++)
                {
                    var e = entriesOf[k];
                    var truth = file.Handles[uint.Parse(e.One(DrmHandle))];
                    var at = $"{because}: renderD{file.Gpu.Minor} handle {truth.Handle}";
                    Assert.True($"{truth.Buffer.PageAlignment}" == e.One(DrmAlignment), $"{at}: alignment {e.One(DrmAlignment)}, page alignment {truth.Buffer.PageAlignment}");
                    Assert.True((truth.IsImport ? "1" : "0") == e.One(DrmIsImport), $"{at}: is_import");
                    Assert.Equal($"{truth.Mappings.Count}", e.One(DrmNumOfVms));
                    Assert.Equal(truth.Mappings.Select(m => $"{m.Start * 4096}+{(m.Last - m.Start + 1) * 4096}@{m.Offset}"),
                        e.All(DrmVms).Select(v => $"{v.One(VmAddr)}+{v.One(VmSize)}@{v.One(VmOffset)}"));
                    Assert.True($"{(truth.Mappings.Count > 0 ? truth.Mappings[^1].Start * 4096 : 0)}" == e.One(DrmAddr), $"{at}: addr is not the last mapping's");
                    var pages = ImageFileName.DrmPages(id, file.Gpu.Minor, k);
                    var hasContents = (truth.Buffer.Domains & (AmdgpuGem.DomainVram | AmdgpuGem.DomainGtt)) != 0 && (!truth.IsImport || truth.Mappings.Count > 0);
                    Assert.True(hasContents == files.Contains(pages), $"{at}: {pages} {(hasContents ? "missing" : "written")}");
                    if (!hasContents) continue;
                    if (truth.IsImport) imports++;
                    var bytes = File.ReadAllBytes(Path.Combine(images, pages))[8..];
                    Assert.Equal(truth.Buffer.Size, (ulong)bytes.Length);
                    Assert.True(bytes.AsSpan().SequenceEqual(truth.Buffer.Bytes(0, (int)truth.Buffer.Size)), $"{at}: {pages} is not the buffer's bytes");
                }
            }
            Assert.Equal(10, imports);
            Assert.Equal($"{pid}", kfd.One(KfdPid));
            Assert.Equal(p.KfdBos.Select(b => $"{b.Size}"), bos.Select(b => b.One(BoSize)));
            Assert.Equal(p.KfdBos.Select(b => $"{p.UserIdOf(b.Gpu)}"), bos.Select(b => b.One(BoGpuId)));
        }
    }

    private static byte[] Payload(string dir, string file) => File.ReadAllBytes(Path.Combine(dir, file))[8..];
}
