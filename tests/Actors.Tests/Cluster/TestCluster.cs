using System.Text.Json;
using System.Net;
using System.Net.Sockets;
using Gpuckpt.Engine.Simulation;
using Gpuckpt.Tests.Support;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// Nodes as OS processes on 127.0.0.1, each with its own simulator process and state directory, all seeded with each
/// other's addresses; the journal is each node's SQLite file or one shared PostgreSQL database. One node may sit
/// behind two <see cref="TcpProxy"/>s, one for remoting and one for its migration data port (it advertises the
/// proxies' ports), so a test can break its links.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    /// <summary>A restarted node is removed and joins again while a busy node may answer late: the wait for every node to agree is longer than a start.</summary>
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromMinutes(3);
    private readonly string? _postgres;
    private readonly string _conf;
    private readonly IReadOnlyDictionary<string, string> _stateDirs;

    /// <param name="gpus">GPUs of each node's simulator (default: 2 each).</param>
    /// <param name="stateDirs">A node's own state directory (a small file system, say), by node name; the others get one under <see cref="Dir"/>.</param>
    public TestCluster(int nodes, string? postgres, string? confOverrides = null, string? proxied = null, int[]? gpus = null,
        IReadOnlyDictionary<string, string>? stateDirs = null)
    {
        _postgres = postgres;
        _stateDirs = stateDirs ?? new Dictionary<string, string>();
        Dir = Directory.CreateTempSubdirectory("gpuckpt-cluster-").FullName;
        // Faster downing than production (a killed node is decided on in seconds), but a busy node, one starting up
        // beside other specs on two cores, is not taken for dead. Frames of 256 KiB: the specs' 8 MiB images are 32 of
        // them, and their crash points count frames.
        _conf = Path.Combine(Dir, "node.conf");
        File.WriteAllText(_conf, File.ReadAllText(Path.Combine(EngineConfig.Directory(), "node.conf")) + """

            akka.cluster.split-brain-resolver.stable-after = 4s
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 6s
            akka.remote.dot-netty.tcp.connection-timeout = 3s
            gpuckpt.copy.chunk-size = 256KiB
            gpuckpt.migration.frame-size = 256KiB
            gpuckpt.migration.ack-timeout = 2s
            gpuckpt.migration.retry-budget = 3
            gpuckpt.migration.request-timeout = 10s
            """ + $"\ngpuckpt.tls.dir = \"{ClusterDir}\"\n" + (confOverrides ?? ""));
        // Every node and the CLI take their certificates from this cluster's CA (mutual TLS on remoting).
        Engine.Trust.ClusterAuthority.Create(ClusterDir);
        Names = [.. Enumerable.Range(0, nodes).Select(i => ((char)('a' + i)).ToString())];
        Ports = FreePorts(nodes);
        if (proxied is not null)
        {
            Proxy = new TcpProxy { TargetPort = Ports[Index(proxied)] };
            Proxy.Start();
            _dataPort = FreePorts(1)[0];
            DataProxy = new TcpProxy { TargetPort = _dataPort };
            DataProxy.Start();
            ProxiedNode = proxied;
        }
        for (var i = 0; i < nodes; i++)
        {
            var name = Names[i];
            Directory.CreateDirectory(StateDir(name));
            // a and b number their GPUs alike only by chance of the seed: the target maps them (TopologyMatcher).
            Simulators[name] = SimulatorProcess.Start(Path.Combine(Dir, $"sim-{name}.sock"), gpus: gpus?[i] ?? 2, idSeed: (uint)(7 * i));
            Clients[name] = SimulatorClient.Connect(Simulators[name].SocketPath);
        }
    }

    public string Dir { get; }

    /// <summary>The cluster directory: its CA, and the certificates the nodes and the CLI issue themselves from it.</summary>
    public string ClusterDir => Path.Combine(Dir, "cluster");
    public IReadOnlyList<string> Names { get; }
    public IReadOnlyList<int> Ports { get; }
    public TcpProxy? Proxy { get; }

    /// <summary>The proxy in front of the proxied node's migration data port, where image frames arrive.</summary>
    public TcpProxy? DataProxy { get; }
    private readonly int _dataPort;
    public string? ProxiedNode { get; }
    public Dictionary<string, SimulatorProcess> Simulators { get; } = new();
    public Dictionary<string, SimulatorClient> Clients { get; } = new();
    public Dictionary<string, NodeProcess> Nodes { get; } = new();

    public string Journal => _postgres is null ? "sqlite" : "postgres";
    public string StateDir(string name) => _stateDirs.TryGetValue(name, out var dir) ? dir : Path.Combine(Dir, $"state-{name}");
    private int Index(string name) => Names.ToList().IndexOf(name);
    private int AdvertisedPort(string name) => name == ProxiedNode ? Proxy!.Port : Ports[Index(name)];
    public string Address(string name) => $"127.0.0.1:{AdvertisedPort(name)}";

    /// <summary>Starts every node and waits until all are up and every node sees every other one up.</summary>
    public async Task StartAll()
    {
        foreach (var name in Names) StartNode(name);
        await Task.WhenAll(Nodes.Values.Select(n => n.WaitUp(StartTimeout)));
        await Converged();
    }

    /// <summary>Starts (or restarts) one node; <paramref name="crashAt"/> arms a crash point in it.</summary>
    public NodeProcess StartNode(string name, string? crashAt = null)
    {
        if (Nodes.TryGetValue(name, out var old)) old.Dispose();
        var node = NodeProcess.Start(name,
            ["--config", _conf, "--driver", Simulators[name].Driver, "--state-dir", StateDir(name), "--journal", Journal],
            NodeEnv(name, crashAt));
        Nodes[name] = node;
        return node;
    }

    /// <summary>Restarts a node and waits until it is up again and the other nodes see it up.</summary>
    public async Task Restart(string name, string? crashAt = null)
    {
        await StartNode(name, crashAt).WaitUp(StartTimeout);
        await Converged();
    }

    /// <summary>
    /// Waits until each node reports every node of the cluster up and reachable: a node that has just come up may not
    /// be known to the others yet (its old incarnation is still being removed), and a migration would then be refused.
    /// </summary>
    public async Task Converged()
    {
        foreach (var from in Names)
        {
            var last = "";
            var seen = await Eventually(() =>
            {
                var status = Cli("cluster", "status", "--node", Address(from), "--json").GetAwaiter().GetResult();
                last = status.ToString();
                if (status.ExitCode != 0) return false;
                var members = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("members").EnumerateArray().ToList();
                return Names.All(n => members.Count(m => m.GetProperty("name").GetString() == n) == 1
                    && members.Single(m => m.GetProperty("name").GetString() == n) is var m
                    && m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean());
            }, ConvergeTimeout, TimeSpan.FromSeconds(1));
            if (!seen)
                throw new TimeoutException($"node {from} did not see every node up within {ConvergeTimeout}: {last}\n" +
                    string.Join("\n", Names.Select(n => $"--- node {n}:\n{Tail(Nodes[n].Output, 60)}")));
        }
    }

    private static string Tail(string output, int lines) => string.Join("\n", output.Split('\n').TakeLast(lines));

    private Dictionary<string, string> NodeEnv(string name, string? crashAt)
    {
        var env = new Dictionary<string, string>
        {
            ["GPUCKPT_NODE_NAME"] = name,
            ["GPUCKPT_NODE_PORT"] = Ports[Index(name)].ToString(),
            ["GPUCKPT_SEED_NODES"] = string.Join(",", Names.Select(Address)),
        };
        if (name == ProxiedNode)
        {
            env["GPUCKPT_NODE_PUBLIC_PORT"] = Proxy!.Port.ToString();
            env["GPUCKPT_NODE_DATA_PORT"] = _dataPort.ToString();
            env["GPUCKPT_NODE_DATA_PUBLIC_PORT"] = DataProxy!.Port.ToString();
        }
        if (_postgres is not null) env["GPUCKPT_POSTGRES"] = _postgres;
        if (crashAt is not null) env["GPUCKPT_CRASH_AT"] = crashAt;
        return env;
    }

    /// <summary>Runs the gpuckpt CLI against the cluster (it talks to a node by address, never joins).</summary>
    public Task<GpuckptProcess.Result> Cli(params string[] args) => CliWithin(TimeSpan.FromMinutes(3), args);

    /// <summary><see cref="Cli"/> for a command that may take longer than three minutes.</summary>
    public Task<GpuckptProcess.Result> CliWithin(TimeSpan timeout, params string[] args) =>
        GpuckptProcess.RunAsync([.. args, "--config", _conf], timeout: timeout);

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; false then.</summary>
    public static async Task<bool> Eventually(Func<bool> condition, TimeSpan timeout, TimeSpan? every = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition()) return true;
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(250));
        }
        return condition();
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        foreach (var l in listeners) l.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners) l.Stop();
        return ports;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Values) node.Dispose();
        Proxy?.Dispose();
        DataProxy?.Dispose();
        foreach (var client in Clients.Values) client.Dispose();
        foreach (var sim in Simulators.Values) sim.Dispose();
        await Task.Yield();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
