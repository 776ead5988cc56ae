using Gpuckpt.Engine.Native;
using Gpuckpt.Engine.Trust;
using Xunit;

namespace Gpuckpt.Engine.Tests.Trust;

/// <summary>The cluster's CA: what it issues is trusted, what another CA issued or what has expired is not; keys stay private.</summary>
public sealed class ClusterAuthoritySpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-ca-").FullName;

    [Fact]
    public void A_certificate_it_issued_is_one_of_the_cluster_and_one_from_another_CA_is_not()
    {
        var ca = ClusterAuthority.Create(Path.Combine(_dir, "cluster"));
        var other = ClusterAuthority.Create(Path.Combine(_dir, "other"));

        using var member = ca.IdentityFor("node-a");
        using var stranger = other.IdentityFor("node-a");

        Assert.Null(ca.Check(member));
        Assert.True(member.HasPrivateKey);
        var refusal = ca.Check(stranger);
        Assert.NotNull(refusal);
        Assert.Contains("not from this cluster's CA", refusal);
        Assert.Contains("node-a", refusal);
    }

    [Fact]
    public void An_expired_certificate_is_refused_naming_its_validity()
    {
        var ca = ClusterAuthority.Create(Path.Combine(_dir, "cluster"));
        using var old = ca.Issue("old", DateTimeOffset.UtcNow.AddHours(-20), DateTimeOffset.UtcNow.AddHours(-2));

        var refusal = ca.Check(old);

        Assert.NotNull(refusal);
        Assert.Contains("not valid now", refusal);
    }

    [Fact]
    public void A_peer_without_a_certificate_is_refused() =>
        Assert.Equal("the peer presented no certificate", ClusterAuthority.Create(Path.Combine(_dir, "cluster")).Check(null));

    [Fact]
    public void Private_keys_are_0600_in_a_0700_directory_and_one_others_can_read_is_refused()
    {
        var dir = Path.Combine(_dir, "cluster");
        ClusterAuthority.Create(dir).IdentityFor("b").Dispose();

        Assert.Equal(0x1c0, Libc.StatPath(dir)!.Value.Mode & 0x1ff);
        Assert.Equal(0x180, Libc.StatPath(Path.Combine(dir, "ca.key"))!.Value.Mode & 0x1ff);
        Assert.Equal(0x180, Libc.StatPath(Path.Combine(dir, "b.key"))!.Value.Mode & 0x1ff);

        Assert.Equal(0, Libc.Chmod(Path.Combine(dir, "b.key"), 0x184));
        var e = Assert.Throws<TrustException>(() => ClusterAuthority.Open(dir).IdentityFor("b"));
        Assert.Contains("b.key", e.Message);
        Assert.Contains("readable by others", e.Message);
    }

    [Fact]
    public void A_node_without_the_CA_key_uses_its_issued_identity_and_cannot_issue_another()
    {
        var dir = Path.Combine(_dir, "cluster");
        using (ClusterAuthority.Create(dir).IdentityFor("a")) { }
        File.Delete(Path.Combine(dir, "ca.key"));

        var opened = ClusterAuthority.Open(dir);
        using var a = opened.IdentityFor("a");
        var e = Assert.Throws<TrustException>(() => opened.IdentityFor("b"));

        Assert.False(opened.CanIssue);
        Assert.Null(opened.Check(a));
        Assert.Contains("cluster add-node b", e.Message);
    }

    [Fact]
    public void A_directory_without_a_CA_names_the_command_that_makes_one()
    {
        var e = Assert.Throws<TrustException>(() => ClusterAuthority.Open(Path.Combine(_dir, "none")));
        Assert.Contains("gpuckpt cluster init", e.Message);
    }

    [Fact]
    public void Init_refuses_a_directory_that_already_holds_a_CA()
    {
        var dir = Path.Combine(_dir, "cluster");
        var first = ClusterAuthority.Create(dir);
        Assert.Throws<TrustException>(() => ClusterAuthority.Create(dir));
        Assert.Equal(first.Certificate.Thumbprint, ClusterAuthority.Open(dir).Certificate.Thumbprint);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
