using System.Text.Json;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>The gpuckpt executable's inspect and verify commands, run as a user runs them (verify of a sample image that no engine signed: --allow-unsigned).</summary>
public sealed class ImageCommandSpecs
{
    [Fact]
    public void Verify_exits_0_on_a_whole_image_and_names_file_and_offset_of_damage()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var ok = GpuckptProcess.Run("verify", image.Directory, "--allow-unsigned");
        Assert.True(ok.ExitCode == 0, $"seed {seed}: {ok.Stderr}");
        Assert.Contains($"ok: {image.FileCount} files", ok.Stdout);

        var (name, (_, chunks)) = image.Pages.First();
        var at = 8 + chunks[2].Offset + 17;
        using (var f = File.OpenHandle(image.FilePath(name), FileMode.Open, FileAccess.ReadWrite))
        {
            var b = new byte[1];
            RandomAccess.Read(f, b, at);
            b[0] ^= 1;
            RandomAccess.Write(f, b, at);
        }
        var bad = GpuckptProcess.Run("verify", image.Directory, "--allow-unsigned");
        Assert.Equal(1, bad.ExitCode);
        var line = bad.Stderr.TrimEnd('\n');
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith($"gpuckpt: {name}: offset {8 + chunks[2].Offset}: checksum mismatch in segment", line);

        var json = GpuckptProcess.Run("verify", image.Directory, "--json", "--allow-unsigned");
        Assert.Equal(1, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Stdout);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal(1, error.GetProperty("code").GetInt32());
        Assert.Equal(name, error.GetProperty("file").GetString());
        Assert.Equal(8 + chunks[2].Offset, error.GetProperty("offset").GetInt64());
    }

    [Fact]
    public void Verify_refuses_an_in_progress_image_in_one_line()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed, commit: false);
        var r = GpuckptProcess.Run("verify", image.Directory, "--allow-unsigned");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpuckpt: manifest.json: image is in-progress, not committed (its writer is still running or died)\n", r.Stderr);
    }

    [Fact]
    public void Inspect_shows_devices_bos_mappings_imports_and_files()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);

        var json = GpuckptProcess.Run("inspect", image.Directory, "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        var model = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal("committed", model.GetProperty("state").GetString());
        Assert.Equal(image.Gpus.Select(g => g.GpuId), model.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("gpu_id").GetUInt32()));
        var bos = model.GetProperty("kfd_bos").EnumerateArray().ToList();
        Assert.Equal(image.Kfd.BoEntries.Select(b => b.Addr), bos.Select(b => b.GetProperty("addr").GetUInt64()));
        Assert.Equal(image.Kfd.BoEntries.Select(b => b.AllocFlags == 1 ? "vram" : "gtt"), bos.Select(b => b.GetProperty("domain").GetString()));
        var nodeB = model.GetProperty("render_nodes").EnumerateArray().Single(n => n.GetProperty("id").GetInt32() == SampleImage.RenderBId);
        var import = nodeB.GetProperty("bos")[0];
        Assert.True(import.GetProperty("is_import").GetBoolean());
        Assert.Equal($"kfd gpu {image.Gpus[0].GpuId:x4} addr 0x{image.Kfd.BoEntries[0].Addr:x}", import.GetProperty("imported_from").GetString());
        Assert.Equal(image.RenderB.BoEntries[2].VmEntries.Select(v => v.Addr),
            nodeB.GetProperty("bos")[2].GetProperty("mappings").EnumerateArray().Select(m => m.GetProperty("addr").GetUInt64()));
        Assert.Equal(image.FileCount, model.GetProperty("files").GetArrayLength());

        var text = GpuckptProcess.Run("inspect", image.Directory);
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("committed", text.Stdout);
        Assert.Contains($"0x{image.Kfd.BoEntries[3].Addr:x}", text.Stdout);
        Assert.Contains($"import from kfd gpu {image.Gpus[0].GpuId:x4}", text.Stdout);
        Assert.Contains(ImageFileName.DrmPages(SampleImage.RenderAId, image.RenderA.DrmRenderMinor, 1), text.Stdout);
        // The totals, counted as the tables below list them.
        var renderBos = model.GetProperty("render_nodes").EnumerateArray().SelectMany(n => n.GetProperty("bos").EnumerateArray()).ToList();
        var imports = renderBos.Count(b => b.GetProperty("is_import").GetBoolean());
        Assert.Contains($"{image.Gpus.Count} GPU(s), {bos.Count} KFD BOs, {renderBos.Count} render-node BOs ({imports} of them imports)", text.Stdout);
    }

    [Fact]
    public void Inspect_of_a_directory_that_is_not_an_image_is_one_line_and_exit_2()
    {
        var dir = Directory.CreateTempSubdirectory("gpuckpt-empty-").FullName;
        try
        {
            var r = GpuckptProcess.Run("inspect", dir);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal($"gpuckpt: manifest.json: missing in {dir}: not an image, or its writer never started\n", r.Stderr);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }
}
