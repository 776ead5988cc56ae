using Akka.Configuration;
using Gpuckpt.Actors.Cluster;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Image signing is opt-in for a single engine and the default on a cluster node: a node loaded from hocon/node.conf
/// signs what it commits and restores only what its own key signed, with the key kept 0600 in its state directory.
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
    public void A_single_engine_leaves_signing_off_unless_asked()
    {
        var engine = WithStateDir(EngineConfig.Load());

        Assert.Same(Gpuckpt.Engine.Images.ImageTrust.None, EngineSettings.LoadTrust(engine, _ => null));
        Assert.True(EngineSettings.LoadTrust(engine, v => v == "GPUCKPT_SIGN_IMAGES" ? "1" : null).Sign, "GPUCKPT_SIGN_IMAGES=1 does not turn signing on");
    }

    public void Dispose()
    {
        if (Directory.Exists(_stateDir)) Directory.Delete(_stateDir, recursive: true);
    }
}
