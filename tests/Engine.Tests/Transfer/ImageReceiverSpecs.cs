using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Tests.Images.Mutation;
using Gpuckpt.Engine.Transfer;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// A target's copy of a migrating image, received frame by frame as the source sends it: byte-identical to the
/// source's files, and signed with the target's own key when the node signs (the cluster default), so that a node
/// requiring signed images restores from it and from nothing another key signed.
/// </summary>
public sealed class ImageReceiverSpecs(RealImage image) : IClassFixture<RealImage>, IDisposable
{
    private const int FrameSize = 64 * 1024;
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"gpuckpt-recv-{Guid.NewGuid():N}");

    /// <summary>
    /// Every file of the source image cut into frames as the source sends them (a page file's length prefix in a frame
    /// of its own), last file first: the order of arrival does not matter.
    /// </summary>
    private string Receive(ImageKey? signWith)
    {
        var source = ManifestCodec.Load(image.Directory);
        var dir = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        using var receiver = ImageReceiver.Create(dir, new ImageHeader(source.ImageId, source.Source, source.Topology));
        long seq = 0;
        foreach (var file in source.Files.Reverse())
        {
            var bytes = File.ReadAllBytes(Path.Combine(image.Directory, file.Name));
            var cuts = ImageFileName.Parse(file.Name).Kind.IsPages() ? new[] { 0, LengthPrefix.Size } : [0];
            var starts = cuts.Concat(Enumerable.Range(0, (bytes.Length + FrameSize - 1) / FrameSize).Select(i => cuts[^1] + i * FrameSize))
                .Where(at => at < bytes.Length).Distinct().ToList();
            for (var i = 0; i < starts.Count; i++)
            {
                var at = starts[i];
                var end = i + 1 < starts.Count ? starts[i + 1] : bytes.Length;
                var encoded = TransferFrame.Encode(seq++, file.Name, bytes.Length, at, bytes.AsSpan(at, end - at));
                var frame = TransferFrame.Decode(encoded, out var payload);
                receiver.Write(frame, payload);
            }
        }
        receiver.Commit([.. source.Files.Select(f => (f.Name, f.Size))], source.Links, signWith);
        return dir;
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_copy_signed_with_the_target_key_holds_the_source_bytes_and_verifies_only_under_that_key()
    {
        var targetKey = ImageKey.LoadOrCreate(Path.Combine(_root, "target.key"));
        var dir = Receive(targetKey);

        foreach (var file in ManifestCodec.Load(image.Directory).Files.Where(f => ImageFileName.Parse(f.Name).Kind.IsPages()))
            Assert.True(File.ReadAllBytes(Path.Combine(image.Directory, file.Name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, file.Name))),
                $"{file.Name}: the copy differs from the source");
        // Like every image: the node's copy of another node's GPU memory is for its owner only.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        Assert.All(Directory.GetFiles(dir), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        var underTarget = ImageVerifier.Verify(dir, trust: new ImageTrust(targetKey, Sign: false, Require: true));
        Assert.True(underTarget.Ok, $"the target's own copy is refused under its key: {underTarget.Describe()}");

        // Another node's key (the source's, say) does not vouch for this copy.
        var otherKey = ImageKey.LoadOrCreate(Path.Combine(_root, "other.key"));
        var underOther = ImageVerifier.Verify(dir, trust: new ImageTrust(otherKey, Sign: false, Require: true));
        Assert.False(underOther.Ok, "a copy signed with the target's key verified under another key");
        Assert.Equal(ImageManifest.FileName, underOther.File);
    }

    [Fact]
    public void An_unsigned_copy_is_refused_where_signed_images_are_required()
    {
        var key = ImageKey.LoadOrCreate(Path.Combine(_root, "target.key"));
        var dir = Receive(signWith: null);

        Assert.True(ImageVerifier.Verify(dir).Ok, "the unsigned copy does not even verify by its checksums");
        var required = ImageVerifier.Verify(dir, trust: new ImageTrust(key, Sign: false, Require: true));
        Assert.False(required.Ok, "an unsigned copy passed where signatures are required");
        Assert.Equal(ImageManifest.FileName, required.File);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
