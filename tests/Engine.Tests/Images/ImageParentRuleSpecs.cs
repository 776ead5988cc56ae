using Gpuckpt.Engine.Images;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Images;

/// <summary>
/// The manifest rules of incremental images: a segment marked in_parent needs a recorded parent, must lie in a page
/// file's contents and cannot also be a zero hole; a parent's manifest SHA-256 is 64 lowercase hex digits. Each is
/// refused naming the file and the offset, before any byte of contents is read.
/// </summary>
public sealed class ImageParentRuleSpecs
{
    [Fact]
    public void Segments_read_in_a_parent_that_the_image_cannot_have_are_refused_naming_file_and_offset()
    {
        var seed = TestSeed.Fresh();
        using var image = new SampleImage(seed);
        var manifest = ManifestCodec.Load(image.Directory);
        var pages = manifest.Files.First(f => ImageFileName.Parse(f.Name).Kind.IsPages() && f.Segments.Count > 2);
        var target = pages.Segments[2];

        // No parent recorded.
        var orphan = Replace(manifest, pages, target with { InParent = true });
        Refused(image, orphan, $"{pages.Name}: offset {target.Offset}: segment marked in_parent, but the image records no parent");

        // With a parent, still not in the length prefix, nor on a zero segment.
        var parent = new ImageParent("../elsewhere", "0123456789abcdef0123456789abcdef", new string('a', 64));
        var prefix = Replace(manifest, pages, pages.Segments[0] with { InParent = true }) with { Parent = parent };
        Refused(image, prefix, $"{pages.Name}: offset 0: segment marked in_parent outside the contents of a page file");
        var zero = Replace(manifest, pages, target with { InParent = true, Zero = true }) with { Parent = parent };
        Refused(image, zero, $"{pages.Name}: offset {target.Offset}: segment marked both zero and in_parent");
        Refused(image, manifest with { Parent = parent with { ManifestSha256 = "not-a-hash" } },
            "manifest.json: parent.manifest_sha256 is not 64 lowercase hex digits");
    }

    private static ImageManifest Replace(ImageManifest m, ManifestFile file, Segment segment) => m with
    {
        Files = [.. m.Files.Select(f => f.Name != file.Name ? f : f with { Segments = [.. f.Segments.Select(s => s.Offset == segment.Offset ? segment : s)] })],
    };

    private static void Refused(SampleImage image, ImageManifest manifest, string expected)
    {
        var e = Assert.Throws<ImageException>(() => ManifestCodec.Decode(ManifestCodec.Encode(manifest)));
        Assert.Equal(expected, e.Message);
        ManifestCodec.Store(image.Directory, manifest);
        var verified = ImageVerifier.VerifyFiles(image.Directory);
        Assert.False(verified.Ok, image.Why);
        Assert.Equal(expected, verified.Describe());
    }
}
