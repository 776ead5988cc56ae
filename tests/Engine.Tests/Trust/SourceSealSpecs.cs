using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Trust;
using Xunit;

namespace Gpuckpt.Engine.Tests.Trust;

/// <summary>
/// A migration source's seal: a target accepts the copy only when a member of its cluster signed exactly the files it
/// received; a changed byte, a missing or extra file, another cluster's signer or a doctored seal is refused, named.
/// </summary>
public sealed class SourceSealSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-seal-").FullName;
    private readonly ClusterAuthority _cluster;
    private readonly Dictionary<string, string> _files;
    private readonly IReadOnlyList<ImageLink> _links = [new ImportLink(7, 0x20, ExporterKind.Kfd, 0x10, 0x7f00_0000_0000UL, null, null)];

    public SourceSealSpecs()
    {
        _cluster = ClusterAuthority.Create(Path.Combine(_dir, "cluster"));
        var random = new Random(Gpuckpt.Tests.Support.TestSeed.Fresh());
        _files = Enumerable.Range(0, 4).ToDictionary(i => $"amdgpu-pages-{i}-1234.img", _ => Convert.ToHexStringLower(RandomBytes(random, 32)), StringComparer.Ordinal);
    }

    private static byte[] RandomBytes(Random random, int n)
    {
        var bytes = new byte[n];
        random.NextBytes(bytes);
        return bytes;
    }

    private SourceSeal Sealed(ClusterAuthority by) => SourceSeal.Sign("img-1", _files, _links, by.IdentityFor("a"));

    [Fact]
    public void A_copy_of_exactly_what_a_member_signed_is_accepted() =>
        Assert.Null(Sealed(_cluster).Check(_cluster, "img-1", new Dictionary<string, string>(_files), _links));

    [Fact]
    public void A_file_whose_bytes_differ_is_named()
    {
        var received = new Dictionary<string, string>(_files) { ["amdgpu-pages-2-1234.img"] = new string('0', 64) };

        var refusal = Sealed(_cluster).Check(_cluster, "img-1", received, _links);

        Assert.StartsWith("amdgpu-pages-2-1234.img: the bytes received differ from those the source signed", refusal);
    }

    [Fact]
    public void A_missing_or_an_extra_file_is_named()
    {
        var fewer = new Dictionary<string, string>(_files);
        fewer.Remove("amdgpu-pages-3-1234.img");
        var more = new Dictionary<string, string>(_files) { ["amdgpu-pages-9-1234.img"] = new string('1', 64) };

        Assert.StartsWith("amdgpu-pages-3-1234.img: signed by the source but never received", Sealed(_cluster).Check(_cluster, "img-1", fewer, _links));
        Assert.StartsWith("amdgpu-pages-9-1234.img: received but not among the files", Sealed(_cluster).Check(_cluster, "img-1", more, _links));
    }

    [Fact]
    public void A_seal_by_another_cluster_is_refused()
    {
        var other = ClusterAuthority.Create(Path.Combine(_dir, "other"));

        var refusal = Sealed(other).Check(_cluster, "img-1", new Dictionary<string, string>(_files), _links);

        Assert.StartsWith("signed by a stranger", refusal);
    }

    [Fact]
    public void A_seal_whose_hashes_were_rewritten_to_match_a_changed_copy_does_not_verify()
    {
        var changed = new Dictionary<string, string>(_files) { ["amdgpu-pages-0-1234.img"] = new string('2', 64) };
        var doctored = Sealed(_cluster) with { Files = changed };

        var refusal = doctored.Check(_cluster, "img-1", changed, _links);

        Assert.Contains("does not verify", refusal);
    }

    [Fact]
    public void Links_or_an_image_other_than_those_signed_are_refused()
    {
        var seal = Sealed(_cluster);

        Assert.Contains("links differ", seal.Check(_cluster, "img-1", new Dictionary<string, string>(_files), []));
        Assert.Contains("the copy is of img-2", seal.Check(_cluster, "img-2", new Dictionary<string, string>(_files), _links));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
