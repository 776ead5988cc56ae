using System.Net;
using System.Net.Sockets;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// A `gpuckpt node` that would share what another process owns is refused before it starts, in one line: a state
/// directory another node holds (naming it and the holder's pid) and a port something already listens on (naming it).
/// </summary>
[Trait("Tier", "Full")]
public sealed class NodeStartRefusalSpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-node-refusal-").FullName;

    [Fact]
    public async Task A_second_node_on_a_state_directory_a_running_node_holds_is_refused_naming_the_directory_and_the_holder()
    {
        var clusterDir = Path.Combine(_dir, "cluster");
        Engine.Trust.ClusterAuthority.Create(clusterDir);
        var conf = Path.Combine(_dir, "node.conf");
        await File.WriteAllTextAsync(conf, await File.ReadAllTextAsync(Path.Combine(EngineConfig.Directory(), "node.conf")) +
                                           $"\nakka.cluster.seed-nodes = []\ngpuckpt.tls.dir = \"{clusterDir}\"\n");
        var state = Path.Combine(_dir, "state");
        var env = new Dictionary<string, string> { [NodeConfig.NameVariable] = "a", [NodeConfig.PortVariable] = "0" };
        await using var first = NodeProcess.Start("a", ["--config", conf, "--state-dir", state], env);
        await first.WaitUp(Timeout);

        var second = await GpuckptProcess.RunAsync(["node", "--config", conf, "--state-dir", state],
            new Dictionary<string, string> { [NodeConfig.NameVariable] = "b", [NodeConfig.PortVariable] = "0" }, timeout: Timeout);

        Assert.True(second.ExitCode == 1, second.ToString());
        var line = Assert.Single(second.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"the state directory {state} is in use by another gpuckpt node (pid {first.ProcessId})", line);
        Assert.False(first.HasExited, "the first node stopped");
    }

    [Fact]
    public async Task A_node_whose_port_something_listens_on_is_refused_naming_the_port()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var r = await GpuckptProcess.RunAsync(["node", "--config", "node.conf", "--state-dir", Path.Combine(_dir, "state")],
            new Dictionary<string, string> { [NodeConfig.PortVariable] = $"{port}", [NodeConfig.HostnameVariable] = "127.0.0.1" }, timeout: Timeout);

        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"port {port} on 127.0.0.1 (remoting port) is in use", line);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
