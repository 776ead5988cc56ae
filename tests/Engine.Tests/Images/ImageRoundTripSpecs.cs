using Gpuckpt.Engine.Images;
using System.Text.Json;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

public sealed class ImageRoundTripSpecs
{
    [Fact]
    public void Messages_and_pages_read_back_equal_to_what_was_written()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var reader = ImageReader.Open(image.Directory);

        Assert.True(image.Kfd.Equals(reader.Read(ImageFileName.Kfd(SampleImage.KfdId), CriuKfd.Parser)), image.Why);
        Assert.True(image.RenderA.Equals(reader.Read(ImageFileName.RenderNode(SampleImage.RenderAId), CriuRenderNode.Parser)), image.Why);
        Assert.True(image.RenderB.Equals(reader.Read(ImageFileName.RenderNode(SampleImage.RenderBId), CriuRenderNode.Parser)), image.Why);
        Assert.True(image.Dmabuf.Equals(reader.Read(ImageFileName.Dmabuf(SampleImage.DmabufId), CriuDmabufNode.Parser)), image.Why);
        Assert.Equal(image.Links, reader.Manifest.Links);
        Assert.Equal("sample", reader.Manifest.Extra["note"]);
        Assert.Equal(JsonSerializer.Serialize(image.Gpus, GpuNode.Json), JsonSerializer.Serialize(reader.Manifest.Topology, GpuNode.Json));

        foreach (var (name, (payload, chunks)) in image.Pages)
        {
            using var pages = reader.OpenPages(name);
            Assert.Equal(payload.LongLength, pages.Length);
            foreach (var (offset, length) in chunks)
            {
                var back = new byte[length];
                pages.ReadVerified(offset, back);
                Assert.True(payload.AsSpan((int)offset, length).SequenceEqual(back), $"{name} chunk at {offset}, {image.Why}");
            }
            // A read that straddles chunk boundaries still returns the right bytes.
            var from = image.Random.Next(0, payload.Length / 2);
            var span = new byte[payload.Length / 2];
            pages.ReadVerified(from, span);
            Assert.True(payload.AsSpan(from, span.Length).SequenceEqual(span), $"{name} range at {from}, {image.Why}");
        }
    }

    [Fact]
    public void Manifest_lists_every_file_with_a_sorted_gapless_cover_of_segments()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var manifest = ManifestCodec.Load(image.Directory);

        var onDisk = Directory.EnumerateFiles(image.Directory, "*.img").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(onDisk, manifest.Files.Select(f => f.Name));
        foreach (var f in manifest.Files)
        {
            Assert.Equal(new FileInfo(image.FilePath(f.Name)).Length, f.Size);
            long at = 0;
            foreach (var s in f.Segments)
            {
                Assert.Equal(at, s.Offset);
                at = s.End;
            }
            Assert.Equal(f.Size, at);
        }
        var pages = manifest.FindFile(image.Pages.Keys.First())!;
        Assert.Equal(1 + image.Pages[pages.Name].Chunks.Count, pages.Segments.Count);
        Assert.Contains(pages.Segments, s => s.Zero);
    }

    [Fact]
    public void Manifest_is_plain_json_with_state_source_links_and_hex_checksums()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(image.FilePath(ImageManifest.FileName)));
        var root = doc.RootElement;
        Assert.Matches("^[0-9a-f]{16}$", root.GetProperty("manifest_xxh64").GetString());
        Assert.Equal(ImageManifest.CurrentFormatVersion, root.GetProperty("format_version").GetInt32());
        Assert.Equal("committed", root.GetProperty("state").GetString());
        Assert.Equal($"img-{seed}", root.GetProperty("image_id").GetString());
        Assert.Equal(4242, root.GetProperty("source").GetProperty("pid").GetInt32());
        Assert.Equal(image.Gpus[1].GpuId, root.GetProperty("topology")[1].GetProperty("gpu_id").GetUInt32());
        var link = root.GetProperty("links")[0];
        Assert.Equal("import", link.GetProperty("type").GetString());
        Assert.Equal("kfd", link.GetProperty("exporter_kind").GetString());
        Assert.Equal(image.Kfd.BoEntries[0].Addr, link.GetProperty("exporter_addr").GetUInt64());
        var kfd = root.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("name").GetString() == ImageFileName.Kfd(SampleImage.KfdId));
        var bytes = File.ReadAllBytes(image.FilePath(ImageFileName.Kfd(SampleImage.KfdId)));
        Assert.Equal(bytes.LongLength, kfd.GetProperty("size").GetInt64());
        Assert.Equal(SegmentHash.Of(bytes).ToString("x16"), kfd.GetProperty("segments")[0].GetProperty("xxh64").GetString());
    }

    [Fact]
    public void Files_start_with_the_payload_length_as_8_little_endian_bytes()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        foreach (var file in Directory.EnumerateFiles(image.Directory, "*.img"))
        {
            var bytes = File.ReadAllBytes(file);
            Assert.Equal(bytes.LongLength - 8, BitConverter.ToInt64(bytes, 0));
        }
        var kfd = File.ReadAllBytes(image.FilePath(ImageFileName.Kfd(SampleImage.KfdId)));
        Assert.True(CriuKfd.Parser.ParseFrom(kfd.AsSpan(8)).Equals(image.Kfd), image.Why);
    }

    [Fact]
    public void All_zero_pieces_leave_holes_in_the_file()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-sparse-{Guid.NewGuid():N}");
        try
        {
            using var writer = ImageWriter.Create(dir, ImageHeader.New(new ImageSource("test", 1), []));
            const long chunk = 1 << 20;
            var pages = writer.OpenPages(ImageFileName.KfdPages(1, 0xabcd), 64 * chunk);
            var data = new byte[chunk];
            new Random(7).NextBytes(data);
            var zeros = new byte[chunk];
            for (long i = 0; i < 64; i++) pages.Write(i * chunk, i == 5 ? data : zeros);
            writer.Commit();
            var onDisk = new FileInfo(Path.Combine(dir, ImageFileName.KfdPages(1, 0xabcd)));
            Assert.Equal(64 * chunk + 8, onDisk.Length);
            Assert.True(DiskUsage(onDisk.FullName) < 8 * chunk, $"allocated {DiskUsage(onDisk.FullName)} bytes for one non-zero MiB");
            Assert.True(ImageVerifier.VerifyFiles(dir).Ok);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void File_names_are_the_plugin_names()
    {
        Assert.Equal("amdgpu-kfd-7.img", ImageFileName.Kfd(7));
        Assert.Equal("amdgpu-pages-7-00c3.img", ImageFileName.KfdPages(7, 0xc3));
        Assert.Equal("amdgpu-renderD-9.img", ImageFileName.RenderNode(9));
        Assert.Equal("amdgpu-drm-pages-9-128-001a.img", ImageFileName.DrmPages(9, 128, 26));
        Assert.Equal("amdgpu-dmabuf_11.img", ImageFileName.Dmabuf(11));
        Assert.Equal(new ImageFileName(ImageFileKind.DrmPages, 9, 0, 128, 26), ImageFileName.TryParse("amdgpu-drm-pages-9-128-001a.img"));
        Assert.Equal(new ImageFileName(ImageFileKind.KfdPages, 7, 0xc3, 0, 0), ImageFileName.TryParse("amdgpu-pages-7-00c3.img"));
        Assert.Null(ImageFileName.TryParse("amdgpu-kfd-7.img.tmp"));
    }

    private static long DiskUsage(string path)
    {
        // stat's block count is what the filesystem allocated, holes excluded.
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var parts = p.StandardOutput.ReadToEnd().Trim().Split(' ');
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return long.Parse(parts[0]) * long.Parse(parts[1]);
    }
}
