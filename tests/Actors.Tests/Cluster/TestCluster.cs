using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;
using Gpuckpt.Host;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Nodes on 127.0.0.1, each with its own simulator and state directory; the journal is each node's SQLite file or one
/// shared PostgreSQL database. The nodes run in the test's process (each its own ActorSystem over loopback remoting)
/// unless <c>processes</c> is set: a spec that kills a node or arms a crash point in it needs `gpuckpt node` processes.
/// Every node binds port 0 and reports the port it bound (a node behind a proxy binds one chosen here, retried if taken):
/// the first forms the cluster, the others name it as their seed, and a restarted node binds the port it had with every
/// node as its seed. One node may sit behind two <see cref="TcpProxy"/>s, one for remoting
/// and one for its migration data port (it advertises the proxies' ports), so a test can break its links.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    /// <summary>A restarted node is removed and joins again while a busy node may answer late: the wait for every node to agree is longer than a start.</summary>
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromMinutes(3);
    private readonly string? _postgres;
    private readonly string _conf, _firstConf;
    private readonly bool _processes;
    private readonly IReadOnlyDictionary<string, string> _stateDirs;
    private readonly Dictionary<string, int> _ports = [];
    private ClusterContact? _contact;

    /// <param name="gpus">GPUs of each node's simulator (default: 2 each).</param>
    /// <param name="stateDirs">A node's own state directory (a small file system, say), by node name; the others get one under <see cref="Dir"/>.</param>
    /// <param name="processes">Each node its own `gpuckpt node` process (to kill it, or to arm a crash point in it).</param>
    public TestCluster(int nodes, string? postgres, string? confOverrides = null, string? proxied = null, int[]? gpus = null,
        IReadOnlyDictionary<string, string>? stateDirs = null, bool processes = false)
    {
        _postgres = postgres;
        _processes = processes;
        _stateDirs = stateDirs ?? new Dictionary<string, string>();
        Dir = Directory.CreateTempSubdirectory("gpuckpt-cluster-").FullName;
        // Faster downing than production (a killed node is decided on in seconds), but a busy node, one starting up
        // beside other specs on two cores, is not taken for dead. Frames of 256 KiB: the specs' 8 MiB images are 32 of
        // them, and their crash points count frames. The connection timeout is also remoting's handshake timeout, which
        // with TLS must leave a CLI process that is still starting up time to answer. A node restarted at its address
        // is refused while its old incarnation is being removed: it asks again after 2 s, not Akka's 10 s.
        _conf = Path.Combine(Dir, "node.conf");
        File.WriteAllText(_conf, File.ReadAllText(Path.Combine(EngineConfig.Directory(), "node.conf")) + """

            akka.cluster.retry-unsuccessful-join-after = 2s
            akka.cluster.split-brain-resolver.stable-after = 4s
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 6s
            akka.remote.dot-netty.tcp.connection-timeout = 10s
            gpuckpt.copy.chunk-size = 256KiB
            gpuckpt.migration.frame-size = 256KiB
            gpuckpt.migration.ack-timeout = 2s
            gpuckpt.migration.retry-budget = 3
            gpuckpt.migration.request-timeout = 10s
            """ + $"\ngpuckpt.tls.dir = \"{ClusterDir}\"\n" + (confOverrides ?? ""));
        // Every node and the CLI take their certificates from this cluster's CA (mutual TLS on remoting).
        Engine.Trust.ClusterAuthority.Create(ClusterDir);
        // The first node's first start: no seed nodes, it forms the cluster.
        _firstConf = Path.Combine(Dir, "node-first.conf");
        File.WriteAllText(_firstConf, File.ReadAllText(_conf) + "\nakka.cluster.seed-nodes = []\n");
        Names = [.. Enumerable.Range(0, nodes).Select(i => ((char)('a' + i)).ToString())];
        if (proxied is not null && processes) throw new ArgumentException("a node process behind a proxy reports the proxy's port, not the one it bound", nameof(proxied));
        if (proxied is not null)
        {
            Proxy = new TcpProxy();
            Proxy.Start();
            DataProxy = new TcpProxy();
            DataProxy.Start();
            ProxiedNode = proxied;
        }
        for (var i = 0; i < nodes; i++)
        {
            var name = Names[i];
            Directory.CreateDirectory(StateDir(name));
            // a and b number their GPUs alike only by chance of the seed: the target maps them (TopologyMatcher).
            Simulators[name] = SimulatorServer.Start(new SimulatorOptions(Path.Combine(Dir, $"sim-{name}.sock"))
            {
                Gpus = gpus?[i] ?? 2,
                IdSeed = (uint)(7 * i),
            });
            Clients[name] = SimulatorClient.Connect(Simulators[name].SocketPath);
        }
    }

    public string Dir { get; }

    /// <summary>The cluster directory: its CA, and the certificates the nodes and the CLI issue themselves from it.</summary>
    public string ClusterDir => Path.Combine(Dir, "cluster");
    public IReadOnlyList<string> Names { get; }
    public TcpProxy? Proxy { get; }

    /// <summary>The proxy in front of the proxied node's migration data port, where image frames arrive.</summary>
    public TcpProxy? DataProxy { get; }
    public string? ProxiedNode { get; }
    public Dictionary<string, SimulatorServer> Simulators { get; } = new();
    public Dictionary<string, SimulatorClient> Clients { get; } = new();
    public Dictionary<string, TestNode> Nodes { get; } = new();

    public string Journal => _postgres is null ? "sqlite" : "postgres";
    public string StateDir(string name) => _stateDirs.TryGetValue(name, out var dir) ? dir : Path.Combine(Dir, $"state-{name}");
    public string Driver(string name) => $"sim:{Simulators[name].SocketPath}";
    private int AdvertisedPort(string name) => name == ProxiedNode ? Proxy!.Port : _ports[name];
    public string Address(string name) => $"127.0.0.1:{AdvertisedPort(name)}";

    /// <summary>A node of a cluster started with <c>processes</c>: its process, to kill or to wait for.</summary>
    public NodeProcess Process(string name) => Nodes[name] as NodeProcess
        ?? throw new InvalidOperationException($"node {name} runs in the test's process: start the cluster with processes: true");

    /// <summary>Starts every node and waits until all are up and every node sees every other one up.</summary>
    public async Task StartAll()
    {
        await (await StartNode(Names[0], seeds: [])).WaitUp(StartTimeout);
        Bound(Names[0]);
        var others = new List<TestNode>();
        foreach (var name in Names.Skip(1)) others.Add(await StartNode(name, seeds: [Names[0]]));
        await Task.WhenAll(others.Select(n => n.WaitUp(StartTimeout)));
        foreach (var n in others) Bound(n.Name);
        await Converged();
    }

    /// <summary>Restarts a node (a process, killed first if it still runs) on its port and waits until it is up and the other nodes see it up; <paramref name="crashAt"/> arms a crash point in it.</summary>
    public async Task Restart(string name, string? crashAt = null)
    {
        await (await StartNode(name, Names, crashAt)).WaitUp(StartTimeout);
        await Converged();
    }

    private async Task<TestNode> StartNode(string name, IReadOnlyList<string> seeds, string? crashAt = null)
    {
        if (!_processes && crashAt is not null) throw new InvalidOperationException("a crash point kills its process: start the cluster with processes: true");
        if (Nodes.Remove(name, out var old)) await old.DisposeAsync();
        var conf = seeds.Count == 0 ? _firstConf : _conf;
        var env = NodeEnv(name, seeds, crashAt);
        TestNode node;
        if (_processes)
        {
            node = NodeProcess.Start(name, ["--config", conf, "--driver", Driver(name), "--state-dir", StateDir(name), "--journal", Journal], env);
        }
        else if (name == ProxiedNode && !_ports.ContainsKey(name))
        {
            // A node behind a proxy reports the proxy's port as its own: it binds a port chosen here, another one if
            // that was taken meanwhile (Akka refuses to start on a port in use).
            for (var attempt = 1; ; attempt++)
            {
                var port = FreePort();
                env[NodeConfig.PortVariable] = $"{port}";
                try
                {
                    node = await StartInProcess(name, conf, env);
                    _ports[name] = port;
                    break;
                }
                catch (Exception) when (attempt < 5)
                {
                }
            }
        }
        else
        {
            node = await StartInProcess(name, conf, env);
        }
        Nodes[name] = node;
        if (node is InProcessNode) Bound(name);
        return node;
    }

    private Task<InProcessNode> StartInProcess(string name, string conf, Dictionary<string, string> env)
    {
        // What NodeCommand composes: the node's file (with its environment) over the journal's over the engine's.
        var engine = JournalConfig.Load($"journal-{Journal}.conf", StateDir(name), _postgres).WithFallback(EngineConfig.Load());
        var config = NodeConfig.Load(conf, v => env.GetValueOrDefault(v)).WithFallback(engine);
        return InProcessNode.Start(name, config, Driver(name));
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Records the ports a node bound (the proxies forward to them).</summary>
    private void Bound(string name)
    {
        var node = Nodes[name];
        if (name != ProxiedNode)
        {
            _ports[name] = node.Port;
            return;
        }
        Proxy!.TargetPort = _ports[name];
        DataProxy!.TargetPort = node.DataPort ?? throw new InvalidOperationException($"node {name} reports no data port to proxy");
    }

    private Dictionary<string, string> NodeEnv(string name, IReadOnlyList<string> seeds, string? crashAt)
    {
        var env = new Dictionary<string, string>
        {
            [NodeConfig.NameVariable] = name,
            // Port 0 on a first start: the node binds a free one and reports it; a restart binds the one it had.
            [NodeConfig.PortVariable] = _ports.TryGetValue(name, out var port) ? $"{port}" : "0",
        };
        if (seeds.Count > 0) env[NodeConfig.SeedsVariable] = string.Join(",", seeds.Select(Address));
        if (name == ProxiedNode)
        {
            env[NodeConfig.PublicPortVariable] = $"{Proxy!.Port}";
            env[NodeConfig.DataPublicPortVariable] = $"{DataProxy!.Port}";
        }
        if (_postgres is not null) env[JournalConfig.PostgresVariable] = _postgres;
        if (crashAt is not null) env["GPUCKPT_CRASH_AT"] = crashAt;
        return env;
    }

    /// <summary>
    /// Waits until each node reports every node of the cluster up and reachable (its cluster status, asked through the
    /// test's own contact for a process, the cluster state of a node in the test's process): a node that has just
    /// come up may not be known to the others yet (its old incarnation is still being removed), and a migration would then
    /// be refused. The nodes are asked at once.
    /// </summary>
    public async Task Converged()
    {
        await Task.WhenAll(Names.Select(async from =>
        {
            var last = "";
            async Task<bool> ReportsAllUp()
            {
                try
                {
                    var status = await AskNode<ClusterStatus>(from, ClusterStatusRequest.Instance);
                    last = string.Join(", ", status.Members.Select(m => $"{m.Name} {m.Status}{(m.Reachable ? "" : " unreachable")}"));
                    return Names.All(n => status.Members.Where(m => m.Name == n).ToList() is [var m] && m.Status == "up" && m.Reachable);
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    last = $"no answer within {ContactTimeout}";
                    return false;
                }
            }
            var seen = Nodes[from] is InProcessNode node
                ? await Eventually(() => node.SeesUp(Names), ConvergeTimeout)
                : await Eventually(ReportsAllUp, ConvergeTimeout);
            if (!seen)
                throw new TimeoutException($"node {from} did not see every node up within {ConvergeTimeout}: {last}\n" +
                    string.Join("\n", Names.Select(n => $"--- node {n}:\n{Tail(Nodes[n].Output, 60)}")));
        }));
    }

    /// <summary>How long the test's contact waits for one node's cluster status (the node waits status-timeout for each member's report).</summary>
    private static readonly TimeSpan ContactTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The CLI's way into the cluster, opened once in the test's process: a CLI process per question costs seconds of start-up.</summary>
    private ClusterContact Contact()
    {
        lock (_ports) return _contact ??= ClusterContact.Open(Address(Names[0]), _conf);
    }

    /// <summary>Asks node <paramref name="name"/>'s /user/node through the test's contact.</summary>
    private Task<T> AskNode<T>(string name, object message)
    {
        var contact = Contact();
        var settings = NodeSettings.From(NodeConfig.Load(_conf, _ => null));
        var address = NodeConfig.SeedAddress(Address(name), settings.SystemName, settings.Protocol);
        return contact.System.ActorSelection($"{address}/user/{NodeActor.Name}").Ask<T>(message, ContactTimeout);
    }

    private static string Tail(string output, int lines) => string.Join("\n", output.Split('\n').TakeLast(lines));

    /// <summary>Runs the gpuckpt CLI against the cluster (it talks to a node by address, never joins).</summary>
    /// <summary>Whether process <paramref name="pid"/> no longer exists on <paramref name="client"/>'s simulator (it migrated away, or ended).</summary>
    public static bool Gone(SimulatorClient client, uint pid)
    {
        try
        {
            client.State(pid);
            return false;
        }
        catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
        {
            return true;
        }
    }

    public Task<GpuckptProcess.Result> Cli(params string[] args) => CliWithin(TimeSpan.FromMinutes(3), args);

    /// <summary><see cref="Cli"/> for a command that may take longer than three minutes.</summary>
    public Task<GpuckptProcess.Result> CliWithin(TimeSpan timeout, params string[] args) =>
        GpuckptProcess.RunAsync([.. args, "--config", _conf], timeout: timeout);

    /// <summary>Runs the gpuckpt CLI with the cluster's configuration and <paramref name="overrides"/> on top (another certificate directory, say).</summary>
    public Task<GpuckptProcess.Result> CliWith(string overrides, TimeSpan timeout, params string[] args)
    {
        var conf = Path.Combine(Dir, $"cli-{Guid.NewGuid():N}.conf");
        File.WriteAllText(conf, File.ReadAllText(_conf) + "\n" + overrides + "\n");
        return GpuckptProcess.RunAsync([.. args, "--config", conf], timeout: timeout);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; false then.</summary>
    public static Task<bool> Eventually(Func<bool> condition, TimeSpan timeout, TimeSpan? every = null) =>
        Eventually(() => Task.FromResult(condition()), timeout, every);

    /// <summary><see cref="Eventually(Func{bool}, TimeSpan, TimeSpan?)"/> for a condition that awaits (a CLI run).</summary>
    public static async Task<bool> Eventually(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? every = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await condition()) return true;
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(250));
        }
        return await condition();
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Nodes.Values.Select(n => n.DisposeAsync().AsTask()));
        if (_contact is not null) await _contact.DisposeAsync();
        Proxy?.Dispose();
        DataProxy?.Dispose();
        foreach (var client in Clients.Values) client.Dispose();
        foreach (var sim in Simulators.Values) sim.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
