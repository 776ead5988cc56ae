using Akka.Configuration;
using Gpuckpt.Actors.Cluster;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>Which seed list a node starts with: only a node that was a member and did not leave gives up the first place.</summary>
public sealed class MembershipRecordSpecs : IDisposable
{
    private const string A = "akka.tcp://gpuckpt@127.0.0.1:4711", B = "akka.tcp://gpuckpt@127.0.0.1:4712", C = "akka.tcp://gpuckpt@127.0.0.1:4713";
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-membership-").FullName;

    private static Config Seeds(params string[] seeds) =>
        ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(s => $"\"{s}\""))}]");

    private static IList<string> SeedsOf(Config config) => config.GetStringList("akka.cluster.seed-nodes", []);

    [Fact]
    public void A_first_seed_without_a_record_keeps_its_place_and_may_form_the_cluster()
    {
        var (config, rejoinOnly) = new MembershipRecord(_dir).Seeds(Seeds(A, B, C), A);
        Assert.False(rejoinOnly);
        Assert.Equal([A, B, C], SeedsOf(config));
    }

    [Fact]
    public void A_first_seed_with_a_record_goes_last_and_only_rejoins()
    {
        var record = new MembershipRecord(_dir);
        record.Write(A);
        var (config, rejoinOnly) = record.Seeds(Seeds(A, B, C), A + "/");
        Assert.True(rejoinOnly);
        Assert.Equal([B, C, A], SeedsOf(config));
    }

    [Fact]
    public void Another_seed_with_a_record_keeps_the_list_as_it_is()
    {
        var record = new MembershipRecord(_dir);
        record.Write(B);
        var (config, rejoinOnly) = record.Seeds(Seeds(A, B, C), B);
        Assert.False(rejoinOnly);
        Assert.Equal([A, B, C], SeedsOf(config));
    }

    [Fact]
    public void A_cleared_record_gives_the_first_place_back()
    {
        var record = new MembershipRecord(_dir);
        record.Write(A);
        record.Clear();
        Assert.False(record.Seeds(Seeds(A, B, C), A).Reordered);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
