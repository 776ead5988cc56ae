using System.Globalization;
using System.Text.Json;
using Gpuckpt.Actors.Cluster;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Three `gpuckpt node` processes, each with its own simulator: they form a cluster, any of them reports every member
/// with its GPUs, remoting listens on the configured address only, and a node that is stopped leaves gracefully.
/// </summary>
public abstract class ClusterStatusSpecs(ITestOutputHelper output)
{
    protected abstract string? Postgres();

    protected async Task Three_nodes_report_the_cluster_through_any_node_and_leave_gracefully()
    {
        await using var cluster = new TestCluster(3, Postgres());
        await cluster.StartAll();

        var status = await cluster.Cli("cluster", "status", "--node", cluster.Address("c"), "--json");
        Assert.True(status.ExitCode == 0, $"cluster status failed: {status}");
        var root = JsonDocument.Parse(status.Stdout).RootElement;
        Assert.Equal("c", root.GetProperty("contacted").GetString());
        var members = root.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(["a", "b", "c"], members.Select(m => m.GetProperty("name").GetString()));
        foreach (var m in members)
        {
            var name = m.GetProperty("name").GetString()!;
            Assert.Equal("up", m.GetProperty("status").GetString());
            Assert.True(m.GetProperty("reachable").GetBoolean());
            Assert.Contains($"node:{name}", m.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
            var gpus = m.GetProperty("gpus").EnumerateArray().Select(g => g.GetProperty("gpu_id").GetUInt32()).Order().ToList();
            Assert.Equal(cluster.Clients[name].Topology().Select(g => g.GpuId).Order(), gpus);
            Assert.Equal(cluster.Driver(name), m.GetProperty("driver").GetString());
        }
        output.WriteLine(status.Stdout);

        foreach (var name in cluster.Names)
            Assert.Equal(["127.0.0.1"], ListeningAddresses(int.Parse(cluster.Address(name).Split(':')[1], CultureInfo.InvariantCulture)));

        var left = await cluster.Nodes["c"].Stop(TimeSpan.FromSeconds(60));
        Assert.True(left == 0, $"node c exited {left} on SIGTERM: {cluster.Nodes["c"].Output}");
        // The leader removes the member that left once every node has seen it exiting: wait for that, bounded.
        var remaining = new List<string?>();
        for (var attempt = 0; attempt < 30; attempt++)
        {
            var after = await cluster.Cli("cluster", "status", "--node", cluster.Address("a"), "--json");
            remaining = [.. JsonDocument.Parse(after.Stdout).RootElement.GetProperty("members").EnumerateArray()
                .Where(m => m.GetProperty("status").GetString() == "up").Select(m => m.GetProperty("name").GetString())];
            if (remaining.Count == 2) break;
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(["a", "b"], remaining);
    }

    /// <summary>
    /// The first seed forms the cluster when no other seed answers within seed-node-timeout. Killed and restarted while
    /// b and c run on, a must rejoin them, never come up as a cluster of its own beside theirs: here its seed-node-timeout
    /// is too short for any answer to arrive in time, as on a busy host where a restarting node starts slowly.
    /// </summary>
    protected async Task A_killed_first_seed_rejoins_its_cluster_instead_of_forming_another()
    {
        await using var cluster = new TestCluster(3, Postgres(), "akka.cluster.seed-node-timeout = 1ms", processes: true);
        await cluster.StartAll();
        Assert.True(File.Exists(Path.Combine(cluster.StateDir("a"), MembershipRecord.FileName)), "a, up, has no record of being a member");

        await cluster.Process("a").Kill();
        await cluster.Restart("a");

        foreach (var from in cluster.Names)
        {
            var status = await cluster.Cli("cluster", "status", "--node", cluster.Address(from), "--json");
            var root = JsonDocument.Parse(status.Stdout).RootElement;
            Assert.Equal(["a", "b", "c"], root.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        }
        output.WriteLine($"a rejoined b and c: {cluster.Nodes["a"].Output}");

        // A graceful leave clears the record: the node may form a cluster again when it is started first.
        var left = await cluster.Nodes["a"].Stop(TimeSpan.FromSeconds(60));
        Assert.True(left == 0, $"node a exited {left} on SIGTERM: {cluster.Nodes["a"].Output}");
        Assert.False(File.Exists(Path.Combine(cluster.StateDir("a"), MembershipRecord.FileName)), $"a left gracefully but kept its record: {cluster.Nodes["a"].Output}");
    }

    /// <summary>The local addresses listening on a TCP port, from /proc/net/tcp and tcp6 (IPv4-mapped shown as IPv4).</summary>
    private static List<string> ListeningAddresses(int port)
    {
        var found = new List<string>();
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        foreach (var line in File.ReadLines(file).Skip(1))
        {
            var cols = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var local = cols[1].Split(':');
            if (cols[3] != "0A" || int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) != port) continue;
            var hex = local[0];
            // The kernel prints each 32-bit word of the address in host (little-endian) order.
            var bytes = Enumerable.Range(0, hex.Length / 8)
                .SelectMany(w => BitConverter.GetBytes(uint.Parse(hex.AsSpan(w * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture)))
                .ToArray();
            var address = new System.Net.IPAddress(bytes);
            found.Add((address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString());
        }
        return [.. found.Distinct()];
    }
}

[Collection(nameof(NodesCollection))]
public sealed class SqliteClusterStatusSpecs(ITestOutputHelper output) : ClusterStatusSpecs(output)
{
    protected override string? Postgres() => null;

    [Fact]
    public Task Three_nodes_report_the_cluster_and_leave_gracefully_sqlite() => Three_nodes_report_the_cluster_through_any_node_and_leave_gracefully();

    [Fact]
    [Trait("Tier", "Full")]
    public Task A_killed_first_seed_rejoins_its_cluster_sqlite() => A_killed_first_seed_rejoins_its_cluster_instead_of_forming_another();
}
