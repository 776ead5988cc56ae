using Akka.Configuration;
using Gpuckpt.Host;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// The node `gpuckpt node` builds (src/Host/Commands/NodeCommand.cs), built in the test's process: its own ActorSystem
/// over loopback remoting, its own driver connection and state directory. A leave is NodeCommand's: leave, wait for
/// the ActorSystem to stop, dispose the engine; exit 1 when the cluster downed it.
/// </summary>
internal sealed class InProcessNode : TestNode
{
    private readonly ClusterNode _node;
    private readonly IGpuDriver _driver;
    private Task<GpuckptProcess.Result>? _left;

    private InProcessNode(string name, ClusterNode node, IGpuDriver driver) : base(name)
    {
        _node = node;
        _driver = driver;
    }

    public override int Port => _node.Address.Port ?? throw new InvalidOperationException($"node {Name} has no port");
    public override int? DataPort => _node.DataPort;
    public override bool HasExited => _node.Terminated.IsCompleted;
    public override string Output => $"(node {Name} runs in the test's process: its log is the test's output)";

    /// <param name="config">The node's configuration, as `gpuckpt node` composes it (node file over the journal's over the engine's).</param>
    /// <param name="driver">The driver spec, as --driver takes it.</param>
    public static async Task<InProcessNode> Start(string name, Config config, string driver)
    {
        var gpu = Drivers.Open(driver);
        try
        {
            return new InProcessNode(name, await ClusterNode.StartAsync(gpu, config), gpu);
        }
        catch
        {
            gpu.Dispose();
            throw;
        }
    }

    public override async Task WaitUp(TimeSpan timeout)
    {
        var first = await Task.WhenAny(_node.Up, _node.Terminated).WaitAsync(timeout);
        if (first != _node.Up) throw new InvalidOperationException($"node {Name} stopped before it joined the cluster");
    }

    /// <summary>Whether this node's view of the cluster holds each of <paramref name="names"/> once, up and reachable (what `cluster status` reports from it).</summary>
    public bool SeesUp(IEnumerable<string> names)
    {
        var state = Akka.Cluster.Cluster.Get(_node.System).State;
        return names.All(n => state.Members.Where(m => m.Roles.Contains(NodeConfig.NameRolePrefix + n)).ToList() is [var m]
            && m.Status == Akka.Cluster.MemberStatus.Up && !state.Unreachable.Contains(m));
    }

    public override Task<GpuckptProcess.Result> Leave(TimeSpan timeout) => (_left ??= LeaveAndStop()).WaitAsync(timeout);

    private async Task<GpuckptProcess.Result> LeaveAndStop()
    {
        await _node.LeaveAsync();
        await _node.Terminated;
        // The node's host and engine, as `gpuckpt node` disposes them on its way out.
        await _node.DisposeAsync();
        var downed = _node.Downed;
        return new GpuckptProcess.Result(downed ? 1 : 0, "", downed ? $"node {Name} was downed and removed from the cluster" : "");
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await Leave(TimeSpan.FromMinutes(1));
        }
        finally
        {
            _driver.Dispose();
        }
    }
}
