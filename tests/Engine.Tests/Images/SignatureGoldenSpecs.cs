using Gpuckpt.Engine.Images;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// Manifests an earlier build signed (its JSON metadata built by reflection, before the metadata generated at build
/// time) still verify with their key: the bytes each MAC covers are the same. Golden/ holds the manifest of a `train`
/// image (render imports, so links, and a topology of two GPUs) and of an incremental image (a parent in its
/// identity), and the test key that signed both. A part changed since signing is refused naming it.
/// </summary>
public sealed class SignatureGoldenSpecs
{
    private static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Images", "Golden", name);

    private static readonly ImageKey Key = ImageKey.Parse(File.ReadAllText(Golden("image.key")), "image.key");

    private static ImageManifest Load(string name) => ManifestCodec.Decode(File.ReadAllBytes(Golden(name)));

    [Fact]
    public void A_manifest_with_links_an_earlier_build_signed_verifies_with_its_key()
    {
        var manifest = Load("train.manifest.json");
        Assert.NotEmpty(manifest.Links);
        Assert.Equal(2, manifest.Topology.Count);

        ImageSignature.Check(manifest, manifest.Signature!.Files, Key);
    }

    [Fact]
    public void An_incremental_manifest_an_earlier_build_signed_verifies_with_its_key()
    {
        var manifest = Load("incremental.manifest.json");
        Assert.NotNull(manifest.Parent);

        ImageSignature.Check(manifest, manifest.Signature!.Files, Key);
    }

    [Theory]
    [InlineData("topology")]
    [InlineData("links")]
    [InlineData("identity")]
    public void A_part_changed_after_an_earlier_build_signed_it_is_named(string part)
    {
        var manifest = Load("train.manifest.json");
        var changed = part switch
        {
            "topology" => manifest with { Topology = [.. manifest.Topology.Select((g, i) => i == 0 ? g with { GpuId = g.GpuId + 1 } : g)] },
            "links" => manifest with { Links = manifest.Links.Skip(1).ToList() },
            _ => manifest with { ImageId = manifest.ImageId + "0" },
        };

        var e = Assert.Throws<ImageException>(() => ImageSignature.Check(changed, changed.Signature!.Files, Key));
        Assert.Contains($"{part} changed after the image was signed", e.Message);
    }
}
