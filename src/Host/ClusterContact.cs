using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;
using Gpuckpt.Actors;
using Gpuckpt.Actors.Cluster;

namespace Gpuckpt.Host;

/// <summary>
/// The CLI's way into a cluster: a remoting-only ActorSystem (it never joins, so it is never a GPU member) that
/// talks to one node's /user/node by its address.
/// </summary>
public sealed class ClusterContact : IAsyncDisposable
{
    private readonly string? _certificates;
    private readonly TaskCompletionSource<string> _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClusterContact(ActorSystem system, string nodeAddress, TimeSpan timeout, string? certificates)
    {
        _certificates = certificates;
        System = system;
        NodeAddress = nodeAddress;
        Timeout = timeout;
        // A node that refuses this CLI's certificate fails the association at the handshake; the ask alone would only
        // time out, as if nothing were there.
        var watch = system.ActorOf(Props.Create(() => new AssociationWatch(_refused)));
        system.EventStream.Subscribe(watch, typeof(AssociationErrorEvent));
        // Under TLS 1.3 the node checks this CLI's certificate after the CLI's side of the handshake is done: its refusal
        // may reach the CLI as the end of an association that never came up.
        system.EventStream.Subscribe(watch, typeof(AssociatedEvent));
        system.EventStream.Subscribe(watch, typeof(DisassociatedEvent));
    }

    /// <summary>The identity the CLI presents to nodes (its certificate is cli.crt in the cluster directory).</summary>
    public const string CliIdentity = "cli";

    public ActorSystem System { get; }
    public string NodeAddress { get; }
    public TimeSpan Timeout { get; }

    /// <param name="node">HOST:PORT or an akka.tcp:// (akka.ssl.tcp://) address; default: the first seed node of the node configuration.</param>
    /// <param name="clusterDir">the cluster directory holding the CLI's certificate (default: the configuration's)</param>
    public static ClusterContact Open(string? node, string configFile, string? clusterDir = null)
    {
        var nodeConfig = NodeConfig.Load(configFile);
        if (clusterDir is not null)
            nodeConfig = ClusterTls.WithDir(nodeConfig, clusterDir);
        var settings = NodeSettings.From(nodeConfig);
        var address = node is not null
            ? NodeConfig.SeedAddress(node, settings.SystemName, settings.Protocol)
            : nodeConfig.GetStringList("akka.cluster.seed-nodes", []).FirstOrDefault()
              ?? throw new UsageException($"{configFile} names no seed node: pass --node HOST:PORT");
        Reachable(address, node, nodeConfig.GetTimeSpan("gpuckpt.cli.connect-timeout", TimeSpan.FromSeconds(2)));
        var host = nodeConfig.GetString("gpuckpt.cli.hostname", "127.0.0.1");
        // The CLI reports in its own words (stdout stays JSON with --json); remoting's own log lines are not shown.
        var config = ConfigurationFactory.ParseString($"""
                akka.actor.provider = remote
                akka.remote.dot-netty.tcp.hostname = "{host}"
                akka.remote.dot-netty.tcp.port = 0
                akka.cluster.seed-nodes = []
                akka.loglevel = OFF
                akka.stdout-loglevel = OFF
                """)
            .WithFallback(nodeConfig)
            .WithFallback(EngineConfig.Load());
        var timeout = nodeConfig.GetTimeSpan("gpuckpt.cli.ask-timeout", TimeSpan.FromSeconds(30));
        // The CLI is a peer like any other: it presents the cluster's `cli` certificate, or no node lets it in.
        var tls = ClusterTls.For(config, CliIdentity);
        return new ClusterContact(ClusterTls.CreateSystem("gpuckpt-cli", config, tls), address, timeout, tls is null ? null : ClusterTls.DirOf(config));
    }

    /// <summary>
    /// Refuses an address that does not parse (exit 2), and one where nothing accepts a TCP connection within
    /// <paramref name="timeout"/> (exit 1), naming it: remoting alone would only say so after its ask timeout.
    /// </summary>
    private static void Reachable(string address, string? given, TimeSpan timeout)
    {
        Address parsed;
        try
        {
            parsed = Address.Parse(address);
        }
        catch (Exception e) when (e is UriFormatException or FormatException or ArgumentException)
        {
            throw new UsageException($"--node {given ?? address}: not HOST:PORT or an akka.tcp:// address ({e.Message.TrimEnd('.')})");
        }
        if (parsed.Host is not { Length: > 0 } host || parsed.Port is not (> 0 and <= 65535) || !address.Contains('@'))
            throw new UsageException($"--node {given ?? address}: not HOST:PORT (a host name or address, and a port from 1 to 65535)");
        if (TcpProbe.Connect(host, parsed.Port.Value, timeout) is { } refused)
            throw new InvalidOperationException($"no gpuckpt node at {host}:{parsed.Port}: {refused}");
    }

    /// <summary>Completes with the reason when the association with a node failed (its TLS handshake refused this CLI, say).</summary>
    public Task<string> Refused => _refused.Task;

    /// <summary>The one line for a failed association: who refused, and why.</summary>
    public string RefusedBy(string reason) => $"the node at {NodeAddress} did not let this CLI in ({reason})" +
        (_certificates is null ? "" : $": its certificate, {Path.Combine(_certificates, CliIdentity)}.crt, must be issued by the cluster's CA and valid now");

    /// <summary>Asks the contacted node's /user/node; a node that does not answer, or refuses this CLI, is a one-line error.</summary>
    public async Task<T> AskNode<T>(object message, TimeSpan? timeout = null)
    {
        var selection = System.ActorSelection($"{NodeAddress}/user/{NodeActor.Name}");
        var ask = selection.Ask<T>(message, timeout ?? Timeout);
        if (await Task.WhenAny(ask, Refused) == Refused && !ask.IsCompleted)
            throw new InvalidOperationException(RefusedBy(await Refused));
        try
        {
            return await ask;
        }
        catch (AskTimeoutException)
        {
            throw new InvalidOperationException($"no gpuckpt node answered at {NodeAddress} within {(timeout ?? Timeout).TotalSeconds:F0} s");
        }
    }

    /// <summary>Turns the first failed association into the contact's refusal, with the innermost cause (the TLS error).</summary>
    private sealed class AssociationWatch : ReceiveActor
    {
        private readonly HashSet<Address> _associated = [];

        public AssociationWatch(TaskCompletionSource<string> refused)
        {
            Receive<AssociationErrorEvent>(e =>
            {
                var cause = e.Cause;
                while (cause.InnerException is not null) cause = cause.InnerException;
                refused.TrySetResult(cause.Message.TrimEnd('.'));
            });
            Receive<AssociatedEvent>(e => _associated.Add(e.RemoteAddress));
            Receive<DisassociatedEvent>(e =>
            {
                if (!e.IsInbound && !_associated.Contains(e.RemoteAddress))
                    refused.TrySetResult("it closed the connection before the association came up");
            });
        }
    }

    public async ValueTask DisposeAsync() => await System.Terminate();
}
