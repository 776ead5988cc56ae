using Gpuckpt.Actors;
using Gpuckpt.Actors.Cluster;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// `gpuckpt node --config FILE`: the file holds what it changes, over the shipped node.conf (a partial file once failed
/// with an error about a cluster setting it never mentioned); a file the HOCON parser refuses is refused naming it.
/// </summary>
public sealed class NodeConfigSpecs : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gpuckpt-node-config-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Write(string text)
    {
        var path = Path.Combine(_dir.FullName, "mine.conf");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_file_holding_only_what_it_changes_lies_over_the_shipped_node_conf()
    {
        var config = NodeConfig.Load(Write("gpuckpt.migration.request-timeout = 7s"), _ => null);

        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("gpuckpt.migration.request-timeout"));
        var shipped = EngineConfig.Load(Path.Combine(EngineConfig.Directory(), NodeConfig.DefaultFile));
        Assert.Equal(shipped.GetString("akka.actor.provider"), config.GetString("akka.actor.provider"));
        Assert.Equal(shipped.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(NodeSettings.From(NodeConfig.Load(Path.Combine(EngineConfig.Directory(), NodeConfig.DefaultFile), _ => null)).Port,
            NodeSettings.From(config).Port);
    }

    [Theory]
    [InlineData("gpuckpt.node.simulator.resident-vram = 1536MiB", 1536UL << 20)]
    [InlineData("gpuckpt.node.simulator.id-seed = 3", 0UL)]
    [InlineData("gpuckpt.node.simulator.resident-vram = -1", 0UL)]
    public void A_node_s_embedded_simulator_makes_resident_the_vram_its_file_names_and_none_by_default(string text, ulong bytes) =>
        Assert.Equal(bytes, NodeSettings.From(NodeConfig.Load(Write(text), _ => null)).SimulatorResidentVram);

    [Theory]
    [InlineData("96KiB", false)]
    [InlineData("1000000", false)]
    [InlineData("128KiB", true)]
    [InlineData("1MiB", true)]
    public void A_migration_frame_size_must_be_a_multiple_of_the_64_KiB_leaf_so_a_copy_hashes_as_its_source(string frame, bool taken)
    {
        var config = NodeConfig.Load(Write($"gpuckpt.migration.frame-size = {frame}"), _ => null);
        if (taken)
        {
            Assert.Equal(config.GetByteSize("gpuckpt.migration.frame-size"), Migration.MigrationSettings.From(config, _dir.FullName).FrameSize);
            return;
        }
        var error = Assert.Throws<Akka.Configuration.ConfigurationException>(() => Migration.MigrationSettings.From(config, _dir.FullName));
        Assert.Contains("must be a multiple of 64 KiB", error.Message);
    }

    [Theory]
    [InlineData("a = ${nowhere}")]
    [InlineData("gpuckpt.migration { request-timeout = ${gpuckpt.missing.value} }")]
    public void A_file_that_is_not_HOCON_is_refused_naming_it(string text)
    {
        var path = Write(text);

        var refused = Assert.Throws<InvalidDataException>(() => NodeConfig.Load(path, _ => null));
        Assert.Contains(path, refused.Message);
        Assert.Contains("not valid HOCON", refused.Message);
    }
}
