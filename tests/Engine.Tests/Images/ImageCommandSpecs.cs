using System.Diagnostics;
using System.Text.Json;
using Gpuckpt.Engine.Images;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>The gpuckpt executable's inspect and verify commands, run as a user runs them.</summary>
public sealed class ImageCommandSpecs
{
    private static (int Exit, string Out, string Err) Gpuckpt(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gpuckpt.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "gpuckpt did not exit in 60 s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Verify_exits_0_on_a_whole_image_and_names_file_and_offset_of_damage()
    {
        var seed = Environment.TickCount;
        using var image = new SampleImage(seed);
        var ok = Gpuckpt("verify", image.Directory);
        Assert.True(ok.Exit == 0, $"seed {seed}: {ok.Err}");
        Assert.Contains("ok: 7 files", ok.Out);

        var (name, (_, chunks)) = image.Pages.First();
        var at = 8 + chunks[2].Offset + 17;
        using (var f = File.OpenHandle(image.FilePath(name), FileMode.Open, FileAccess.ReadWrite))
        {
            var b = new byte[1];
            RandomAccess.Read(f, b, at);
            b[0] ^= 1;
            RandomAccess.Write(f, b, at);
        }
        var bad = Gpuckpt("verify", image.Directory);
        Assert.Equal(1, bad.Exit);
        var line = bad.Err.TrimEnd('\n');
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith($"gpuckpt: {name}: offset {8 + chunks[2].Offset}: checksum mismatch in segment", line);

        var json = Gpuckpt("verify", image.Directory, "--json");
        Assert.Equal(1, json.Exit);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(name, doc.RootElement.GetProperty("file").GetString());
        Assert.Equal(8 + chunks[2].Offset, doc.RootElement.GetProperty("offset").GetInt64());
    }

    [Fact]
    public void Verify_refuses_an_in_progress_image_in_one_line()
    {
        var seed = Environment.TickCount;
        using var image = new SampleImage(seed, commit: false);
        var r = Gpuckpt("verify", image.Directory);
        Assert.Equal(1, r.Exit);
        Assert.Equal("gpuckpt: manifest.json: image is in-progress, not committed (its writer is still running or died)\n", r.Err);
    }

    [Fact]
    public void Inspect_shows_devices_bos_mappings_imports_and_files()
    {
        var seed = Environment.TickCount;
        using var image = new SampleImage(seed);

        var json = Gpuckpt("inspect", image.Directory, "--json");
        Assert.True(json.Exit == 0, json.Err);
        var model = JsonDocument.Parse(json.Out).RootElement;
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
        Assert.Equal(7, model.GetProperty("files").GetArrayLength());

        var text = Gpuckpt("inspect", image.Directory);
        Assert.True(text.Exit == 0, text.Err);
        Assert.Contains("committed", text.Out);
        Assert.Contains($"0x{image.Kfd.BoEntries[3].Addr:x}", text.Out);
        Assert.Contains($"import from kfd gpu {image.Gpus[0].GpuId:x4}", text.Out);
        Assert.Contains(ImageFileName.DrmPages(SampleImage.RenderAId, image.RenderA.DrmRenderMinor, 1), text.Out);
    }

    [Fact]
    public void Inspect_of_a_directory_that_is_not_an_image_is_one_line_and_exit_2()
    {
        var dir = Directory.CreateTempSubdirectory("gpuckpt-empty-").FullName;
        try
        {
            var r = Gpuckpt("inspect", dir);
            Assert.Equal(2, r.Exit);
            Assert.Equal($"gpuckpt: manifest.json: missing in {dir}: not an image, or its writer never started\n", r.Err);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }
}
