using Akka.Configuration;
using Gpuckpt.Actors.Cluster;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Image signing is the default for a single engine and on a cluster node: each signs what it commits and restores only
/// what its own key signed, with the key kept 0600 in its state directory.
/// </summary>
public sealed class ClusterImageTrustSpecs : IDisposable
{
    private readonly string _stateDir = Path.Combine(Path.GetTempPath(), $"gpuckpt-trust-{Guid.NewGuid():N}");

    private Config WithStateDir(Config config) =>
        ConfigurationFactory.ParseString($"gpuckpt.state-dir = \"{_stateDir}\"").WithFallback(config);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_cluster_node_signs_and_requires_signed_images_with_a_key_of_its_own()
    {
        var node = WithStateDir(NodeConfig.Load("node.conf", _ => null).WithFallback(EngineConfig.Load()));

        var trust = EngineSettings.LoadTrust(node, _ => null);

        Assert.True(trust.Sign, "a cluster node does not sign its images");
        Assert.True(trust.Require, "a cluster node restores unsigned images");
        var keyFile = Path.Combine(_stateDir, "image.key");
        Assert.True(File.Exists(keyFile), $"no node key at {keyFile}");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Equal(trust.Key!.Id, Gpuckpt.Engine.Images.ImageKey.Load(keyFile).Id);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_single_engine_signs_and_requires_signed_images_by_default_and_only_an_explicit_choice_turns_that_off()
    {
        var engine = WithStateDir(EngineConfig.Load());

        var trust = EngineSettings.LoadTrust(engine, _ => null);

        Assert.True(trust is { Sign: true, Require: true }, $"a single engine does not sign and require signatures by default: {trust}");
        var keyFile = Path.Combine(_stateDir, "image.key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Equal(trust.Key!.Id, Gpuckpt.Engine.Images.ImageKey.Load(keyFile).Id);
        var allowUnsigned = ConfigurationFactory.ParseString("gpuckpt.images { sign = off, require-signature = off }").WithFallback(engine);
        Assert.Same(Gpuckpt.Engine.Images.ImageTrust.None, EngineSettings.LoadTrust(allowUnsigned, _ => null));
    }

    [Fact]
    public void A_key_only_checked_with_must_exist_and_is_never_made()
    {
        var missing = Path.Combine(_stateDir, "theirs.key");
        var checkOnly = ConfigurationFactory.ParseString($"gpuckpt.images {{ sign = off, require-signature = on, key-file = \"{missing}\" }}")
            .WithFallback(WithStateDir(EngineConfig.Load()));

        var error = Assert.Throws<FileNotFoundException>(() => EngineSettings.LoadTrust(checkOnly, _ => null));
        Assert.Contains(missing, error.Message);
        Assert.False(File.Exists(missing));
    }

    public void Dispose()
    {
        if (Directory.Exists(_stateDir)) Directory.Delete(_stateDir, recursive: true);
    }
}
