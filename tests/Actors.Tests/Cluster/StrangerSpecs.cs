using Gpuckpt.Actors.Cluster;
using Gpuckpt.Simulator;
using Gpuckpt.Engine.Trust;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Node processes on loopback and a CLI process that is not of their cluster: with a certificate from another CA, with
/// an expired one, or with none, its migration is refused and never reaches a node: the process it names is never
/// paused, and a member's request afterwards still goes through. A node process that is not of the cluster never joins:
/// it is refused at the handshake (or, its certificate expired, refuses itself), says so in one line naming its
/// certificate and exits, and the members stay as they were.
/// </summary>
[Collection(nameof(NodesCollection))]
[Trait("Tier", "Full")]
public sealed class StrangerSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Within = TimeSpan.FromMinutes(2);

    /// <summary>A stranger node gives up at its first handshake (another CA) or before it starts (expired, none).</summary>
    private static readonly TimeSpan StrangerWithin = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_CLI_with_another_CA_an_expired_certificate_or_none_is_refused_and_pauses_nothing()
    {
        await using var cluster = new TestCluster(2, null, processes: true);
        await cluster.StartAll();
        var a = cluster.Clients["a"];
        var pid = a.Spawn(WorkloadRequest.Named("tiny", 3));
        // A member's CLI goes straight to remoting: nothing it does reads, in the node's log, as a failed handshake.
        var status = await cluster.Cli("cluster", "status", "--node", cluster.Address("a"));
        Assert.True(status.ExitCode == 0, $"the cluster's own CLI was refused: {status}");
        Assert.DoesNotContain("TLS", cluster.Process("a").Output, StringComparison.OrdinalIgnoreCase);
        var strangers = Directory.CreateTempSubdirectory("gpuckpt-strangers-").FullName;
        try
        {
            var (other, expired, none) = StrangerDirs(cluster, strangers, "cli");

            foreach (var (what, dir, says) in new[]
                     {
                         ("another CA's certificate", other, "did not let this CLI in"), ("an expired certificate", expired, "did not let this CLI in"),
                         ("no certificate", none, "holds no certificate for cli"),
                     })
            {
                var run = await cluster.CliWith($"gpuckpt.tls.dir = {HoconString.Quote(dir)}", Within,
                    "migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", cluster.Address("a"));
                output.WriteLine($"{what}: {run}");
                Assert.True(run.ExitCode != 0, $"a CLI with {what} was let in: {run}");
                Assert.DoesNotContain("   at ", run.Stderr);
                Assert.True(run.Stderr.Contains(says, StringComparison.Ordinal) && run.Stderr.Trim().Split('\n').Length == 1,
                    $"a CLI with {what} is not told in one line that it was not let in: {run}");
                var state = a.State(pid);
                Assert.True(state.Running && state.Counters.ProcessInfo == 0, $"after a CLI with {what}, pid {pid} was touched: {state}");
            }
            // The nodes refused at the handshake, and said so.
            Assert.Contains("TLS", cluster.Process("a").Output, StringComparison.OrdinalIgnoreCase);

            // A member's CLI is still heard: the same migration goes through.
            var member = await cluster.Cli("migrate", "--pid", $"{pid}", "--from", "a", "--to", "b", "--node", cluster.Address("a"));
            Assert.True(member.ExitCode == 0, $"the cluster's own CLI was refused after the strangers: {member}");
        }
        finally
        {
            Directory.Delete(strangers, recursive: true);
        }
    }

    [Fact]
    public async Task A_node_with_another_CA_an_expired_certificate_or_none_never_joins_and_says_why()
    {
        await using var cluster = new TestCluster(2, null, processes: true);
        await cluster.StartAll();
        var strangers = Directory.CreateTempSubdirectory("gpuckpt-stranger-nodes-").FullName;
        try
        {
            var (other, expired, none) = StrangerDirs(cluster, strangers, "s");

            foreach (var (what, dir, says) in new[]
                     {
                         ("another CA's certificate", other, "was not let in"), ("an expired certificate", expired, "cannot join with its certificate"),
                         ("no certificate", none, "holds no certificate for s"),
                     })
            {
                var conf = Path.Combine(strangers, $"node-{Path.GetFileName(dir)}.conf");
                File.WriteAllText(conf, File.ReadAllText(Path.Combine(cluster.Dir, "node.conf")) + $"\ngpuckpt.tls.dir = {HoconString.Quote(dir)}\n");
                var state = Directory.CreateDirectory(Path.Combine(strangers, $"state-{Path.GetFileName(dir)}")).FullName;
                await using var stranger = NodeProcess.Start("s", ["--config", conf, "--state-dir", state, "--journal", "sqlite"], new Dictionary<string, string>
                {
                    [NodeConfig.NameVariable] = "s",
                    [NodeConfig.PortVariable] = "0",
                    [NodeConfig.SeedsVariable] = cluster.Address("a"),
                });
                var run = await stranger.Exited(StrangerWithin);
                output.WriteLine($"a node with {what}: {run}");
                Assert.True(run.ExitCode != 0, $"a node with {what} did not fail: {run}");
                Assert.DoesNotContain("\"state\":\"up\"", run.Stdout);
                var lines = run.Stderr.Trim().Split('\n');
                Assert.True(lines.Length == 1 && lines[0].Contains(says, StringComparison.Ordinal) &&
                            (dir == none || lines[0].Contains(Path.Combine(dir, "s.crt"), StringComparison.Ordinal)),
                    $"a node with {what} does not say in one line that it was not let in, naming its certificate: {run}");

                var status = await cluster.Cli("cluster", "status", "--node", cluster.Address("a"), "--json");
                Assert.True(status.ExitCode == 0, $"cluster status failed: {status}");
                var members = System.Text.Json.JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray()
                    .Select(m => m.GetProperty("name").GetString()).ToList();
                Assert.True(members.SequenceEqual(["a", "b"]), $"after a node with {what} tried to join, the members are {string.Join(", ", members)}");
            }
            Assert.Contains("TLS", cluster.Process("a").Output, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            Directory.Delete(strangers, recursive: true);
        }
    }

    /// <summary>
    /// Three cluster directories of strangers named <paramref name="identity"/>: another cluster's CA, which issues them a
    /// certificate of its own; the cluster's CA certificate and one it issued that expired two hours ago, with no CA key to
    /// issue a fresh one; the cluster's CA certificate only (no certificate, no key).
    /// </summary>
    private static (string Other, string Expired, string None) StrangerDirs(TestCluster cluster, string strangers, string identity)
    {
        var other = Path.Combine(strangers, "other");
        ClusterAuthority.Create(other);
        var expired = Path.Combine(strangers, "expired");
        Directory.CreateDirectory(expired);
        foreach (var file in new[] { ClusterAuthority.CaCertificateFile, ClusterAuthority.CaKeyFile })
            File.Copy(Path.Combine(cluster.ClusterDir, file), Path.Combine(expired, file));
        ClusterAuthority.Open(expired).Issue(identity, DateTimeOffset.UtcNow.AddHours(-20), DateTimeOffset.UtcNow.AddHours(-2)).Dispose();
        File.Delete(Path.Combine(expired, ClusterAuthority.CaKeyFile));
        var none = Path.Combine(strangers, "none");
        Directory.CreateDirectory(none);
        File.Copy(Path.Combine(cluster.ClusterDir, ClusterAuthority.CaCertificateFile), Path.Combine(none, ClusterAuthority.CaCertificateFile));
        return (other, expired, none);
    }
}
