using Akka.Actor;
using Akka.Hosting;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Engine.Images;
using Gpuckpt.Simulator;
using Xunit;

namespace Gpuckpt.Hosting.Tests;

/// <summary>
/// A node built into Akka.Hosting.TestKit's host through <see cref="NodeHosting.AddGpuckptNode"/>, as `gpuckpt node` builds
/// it into its own: one member over mutual TLS that forms its cluster, with its own simulator and SQLite journal.
/// </summary>
public sealed class NodeHostingSpecs : Akka.Hosting.TestKit.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string _dir = Directory.CreateTempSubdirectory("gpuckpt-hosting-").FullName;
    private readonly SimulatorServer _simulator;
    private readonly SimulatorClient _client;
    private readonly NodeStart _start;

    public NodeHostingSpecs(ITestOutputHelper output) : base("gpuckpt", output)
    {
        var stateDir = Path.Combine(_dir, "state");
        Directory.CreateDirectory(stateDir);
        var clusterDir = Path.Combine(_dir, "cluster");
        Engine.Trust.ClusterAuthority.Create(clusterDir);
        var conf = Path.Combine(_dir, "node.conf");
        File.WriteAllText(conf, File.ReadAllText(Path.Combine(EngineConfig.Directory(), "node.conf")) + $"""

            akka.cluster.seed-nodes = []
            gpuckpt.copy.chunk-size = 256KiB
            gpuckpt.tls.dir = "{clusterDir}"
            """);
        _simulator = SimulatorServer.Start(new SimulatorOptions(Path.Combine(_dir, "sim.sock")) { Gpus = 2 });
        _client = SimulatorClient.Connect(_simulator.SocketPath);
        var env = new Dictionary<string, string> { [NodeConfig.NameVariable] = "solo", [NodeConfig.PortVariable] = "0" };
        var config = NodeConfig.Load(conf, v => env.GetValueOrDefault(v))
            .WithFallback(JournalConfig.Load("journal-sqlite.conf", stateDir).WithFallback(EngineConfig.Load()));
        _start = NodeStart.For(_client, config);
    }

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) => builder.AddGpuckptNode(_start);

    [Fact]
    public async Task A_hosted_node_forms_its_cluster_over_TLS_and_its_registered_node_actor_answers_for_its_GPUs()
    {
        var node = await _start.Node.WaitAsync(Timeout, Cancel);
        await node.Up.WaitAsync(Timeout, Cancel);
        Assert.Equal("akka.ssl.tcp", node.Address.Protocol);
        var info = await ActorRegistry.Get<NodeActor>().Ask<NodeInfo>(NodeInfoRequest.Instance, Timeout, Cancel);
        Assert.Equal("solo", info.Name);
        Assert.Equal(2, info.Gpus.Count);
        Assert.False(info.Leaving);
        Assert.True(_start.Membership.Exists, "an Up node keeps a record of its membership");
    }

    [Fact]
    public async Task Stopping_the_host_lets_a_running_checkpoint_finish_and_then_leaves_the_cluster()
    {
        var node = await _start.Node.WaitAsync(Timeout, Cancel);
        await node.Up.WaitAsync(Timeout, Cancel);
        var pid = _client.Spawn(WorkloadRequest.Named("train", 5, sizeBytes: 8 << 20));
        // Every MiB copied takes half a second: the checkpoint runs for seconds after the host is told to stop.
        foreach (var gpu in _client.Topology()) _client.SetCopyDelay(gpu.GpuId, 500_000);
        var images = Path.Combine(_dir, "images");
        ActorRegistry.Get<JobsActor>().Tell(new CheckpointRequest(pid, images, LeaveRunning: true), TestActor);
        var nodeActor = ActorRegistry.Get<NodeActor>();
        while ((await nodeActor.Ask<NodeInfo>(NodeInfoRequest.Instance, Timeout, Cancel)).Jobs.Count == 0) await Task.Delay(50, Cancel);

        // What SIGTERM does to `gpuckpt node`: the host stops, and its coordinated shutdown drains the jobs first.
        var stopping = Host.StopAsync(Cancel);
        var reply = await ExpectMsgAsync<ICheckpointMessage>(Timeout, cancellationToken: Cancel);
        Assert.True(reply is CheckpointCompleted, $"the checkpoint did not finish: {reply}");
        await stopping.WaitAsync(Timeout, Cancel);
        Assert.True(Sys.WhenTerminated.IsCompleted, "the ActorSystem still runs after the host stopped");
        Assert.False(_start.Membership.Exists, "a node that left still holds its membership record, as if it had been downed");
        Assert.False(_client.State(pid).Paused, "the checkpointed process was left paused");
        var verified = ImageVerifier.Verify(images, cancel: Cancel);
        Assert.True(verified.Ok, $"{verified.File} at {verified.Offset}: {verified.Reason}");
    }

    protected override async Task AfterAllAsync()
    {
        await base.AfterAllAsync();
        _client.Dispose();
        _simulator.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
