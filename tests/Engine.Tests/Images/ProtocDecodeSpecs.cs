using CliWrap.Buffered;
using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>A fact that runs only where protoc is installed, and says so visibly where it is not.</summary>
public sealed class ProtocFactAttribute : FactAttribute
{
    public ProtocFactAttribute()
    {
        if (Protoc.Path is null) Skip = "protoc not found on PATH: install protobuf-compiler to check the wire format";
    }
}

/// <summary>Runs <c>protoc --decode_raw</c> and parses its output into (field number, value or children) nodes.</summary>
public static class Protoc
{
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => System.IO.Path.Combine(d, "protoc"))
        .FirstOrDefault(File.Exists);

    public sealed record Node(int Field, string? Value, IReadOnlyList<Node> Children)
    {
        public IEnumerable<Node> All(int field) => Children.Where(c => c.Field == field);

        public string One(int field) => All(field).Single().Value!;

        public Node Sub(int field) => All(field).Single();
    }

    public static Node DecodeRaw(byte[] payload)
    {
        // Both streams read at once (CliWrap): protoc never blocks on a full stderr pipe while stdout is read.
        var result = CliWrap.Cli.Wrap(Path!).WithArguments("--decode_raw").WithStandardInputPipe(CliWrap.PipeSource.FromBytes(payload))
            .WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();
        var output = result.StandardOutput;
        Assert.True(result.ExitCode == 0, $"protoc --decode_raw failed: {result.StandardError}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
        var at = 0;
        return new Node(0, null, ParseBlock(lines, ref at));
    }

    private static List<Node> ParseBlock(List<string> lines, ref int at)
    {
        var nodes = new List<Node>();
        while (at < lines.Count)
        {
            var line = lines[at++];
            if (line == "}") break;
            if (line.EndsWith(" {"))
                nodes.Add(new Node(int.Parse(line[..^2]), null, ParseBlock(lines, ref at)));
            else
            {
                var colon = line.IndexOf(':');
                nodes.Add(new Node(int.Parse(line[..colon]), line[(colon + 1)..].Trim(), []));
            }
        }
        return nodes;
    }
}

public sealed class ProtocDecodeSpecs
{
    private static byte[] Payload(SampleImage image, string file) => File.ReadAllBytes(image.FilePath(file))[8..];

    [ProtocFact]
    public void Kfd_image_carries_the_plugin_field_numbers()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var root = Protoc.DecodeRaw(Payload(image, ImageFileName.Kfd(SampleImage.KfdId)));

        Assert.Equal(image.Kfd.Pid.ToString(), root.One(1));
        Assert.Equal(image.Gpus.Count.ToString(), root.One(2));
        Assert.Equal(image.Kfd.BoEntries.Count.ToString(), root.One(5));
        Assert.Equal(image.Kfd.SharedMemMagic.ToString(), root.One(9));
        var devices = root.All(4).ToList();
        Assert.Equal(image.Gpus.Count, devices.Count);
        for (var i = 0; i < devices.Count; i++)
        {
            Assert.Equal(image.Gpus[i].GpuId.ToString(), devices[i].One(2));
            Assert.Equal(image.Gpus[i].SimdCount.ToString(), devices[i].One(4));
            Assert.Equal(image.Gpus[i].DrmRenderMinor.ToString(), devices[i].One(21));
            Assert.Equal(image.Gpus[i].HiveId.ToString(), devices[i].One(22));
            Assert.Equal(image.Gpus[i].VramSize.ToString(), devices[i].One(31));
            Assert.Equal("11", devices[i].Sub(32).One(1));
        }
        var bos = root.All(6).ToList();
        Assert.Equal(image.Kfd.BoEntries.Count, bos.Count);
        for (var i = 0; i < bos.Count; i++)
        {
            var want = image.Kfd.BoEntries[i];
            var why = $"bo {i}, seed {seed}";
            Assert.True(want.Addr.ToString() == bos[i].One(1), why);
            Assert.True(want.Size.ToString() == bos[i].One(2), why);
            Assert.True(want.Offset.ToString() == bos[i].One(3), why);
            Assert.True(want.AllocFlags.ToString() == bos[i].One(4), why);
            Assert.True(want.GpuId.ToString() == bos[i].One(5), why);
            Assert.True(want.Handle.ToString() == bos[i].One(6), why);
        }
        Assert.Single(root.All(10));
    }

    [ProtocFact]
    public void Render_node_and_dmabuf_images_carry_the_plugin_field_numbers()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var root = Protoc.DecodeRaw(Payload(image, ImageFileName.RenderNode(SampleImage.RenderBId)));

        Assert.Equal(image.RenderB.GpuId.ToString(), root.One(1));
        Assert.Equal(SampleImage.RenderBId.ToString(), root.One(2));
        Assert.Equal(image.RenderB.DrmRenderMinor.ToString(), root.One(3));
        Assert.Equal(image.RenderB.BoEntries.Count.ToString(), root.One(4));
        var bos = root.All(5).ToList();
        for (var i = 0; i < bos.Count; i++)
        {
            var want = image.RenderB.BoEntries[i];
            var why = $"render bo {i}, seed {seed}";
            Assert.True(want.Addr.ToString() == bos[i].One(1), why);
            Assert.True(want.Size.ToString() == bos[i].One(2), why);
            Assert.True(want.Alignment.ToString() == bos[i].One(5), why);
            Assert.True(want.PreferredDomains.ToString() == bos[i].One(6), why);
            Assert.True(want.Handle.ToString() == bos[i].One(7), why);
            Assert.True(want.IsImport.ToString() == bos[i].One(8), why);
            Assert.True(want.VmEntries.Count.ToString() == bos[i].One(9), why);
            var vms = bos[i].All(10).ToList();
            Assert.Equal(want.VmEntries.Count, vms.Count);
            for (var v = 0; v < vms.Count; v++)
            {
                Assert.True(want.VmEntries[v].Addr.ToString() == vms[v].One(1), why);
                Assert.True(want.VmEntries[v].Size.ToString() == vms[v].One(2), why);
                Assert.True(want.VmEntries[v].Flags.ToString() == vms[v].One(4), why);
            }
        }

        var dmabuf = Protoc.DecodeRaw(Payload(image, ImageFileName.Dmabuf(SampleImage.DmabufId)));
        Assert.Equal(image.Dmabuf.GemHandle.ToString(), dmabuf.One(1));
    }
}
