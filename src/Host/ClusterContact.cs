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
    private readonly TaskCompletionSource _associated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Address _node;
    private readonly TimeSpan _connectTimeout;
    private Task<string>? _unreached;

    private ClusterContact(ActorSystem system, string nodeAddress, Address node, TimeSpan connectTimeout, TimeSpan timeout, string? certificates)
    {
        _certificates = certificates;
        _node = node;
        _connectTimeout = connectTimeout;
        System = system;
        NodeAddress = nodeAddress;
        Timeout = timeout;
        // A node that refuses this CLI's certificate fails the association at the handshake; the ask alone would only
        // time out, as if nothing were there.
        var watch = system.ActorOf(Props.Create(() => new AssociationWatch(_refused, _associated)));
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
        var parsed = Parse(address, node);
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
        var connectTimeout = nodeConfig.GetTimeSpan("gpuckpt.cli.connect-timeout", TimeSpan.FromSeconds(2));
        ClusterTls? tls;
        try
        {
            tls = ClusterTls.For(config, CliIdentity);
        }
        catch (Engine.Trust.TrustException)
        {
            // Without its certificate this CLI reaches no node; where none listens either, that is the first thing to fix.
            if (Nobody(parsed, connectTimeout) is { } nobody) throw new InvalidOperationException(nobody);
            throw;
        }
        return new ClusterContact(ClusterTls.CreateSystem("gpuckpt-cli", config, tls), address, parsed, connectTimeout, timeout,
            tls is null ? null : ClusterTls.DirOf(config));
    }

    /// <summary>Refuses an address that does not parse (exit 2), naming it.</summary>
    private static Address Parse(string address, string? given)
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
        return parsed;
    }

    /// <summary>
    /// Completes with the one-line error when the node cannot be reached: nothing accepts a connection at its address
    /// (exit 1, named within connect-timeout rather than after the ask timeout), or it refused this CLI. Never completes
    /// while the node is there and lets this CLI in.
    /// </summary>
    /// <remarks>
    /// Remoting goes first. A plain TCP probe tells "nothing listens" from "the node refused" only once its association
    /// failed, or none came up within connect-timeout: a probe of a node that is there would reach its TLS handler as a
    /// connection closed in the middle of a handshake, an error in that node's log for every command.
    /// </remarks>
    public Task<string> Unreached => _unreached ??= WatchUnreached();

    private async Task<string> WatchUnreached()
    {
        var first = await Task.WhenAny(_refused.Task, _associated.Task, Task.Delay(_connectTimeout));
        if (first != _associated.Task && await Task.Run(() => Nobody(_node, _connectTimeout)) is { } nobody) return nobody;
        return RefusedBy(await _refused.Task);
    }

    /// <summary>"no gpuckpt node at HOST:PORT: why" when nothing accepts a TCP connection there within <paramref name="timeout"/>; else null.</summary>
    private static string? Nobody(Address node, TimeSpan timeout) =>
        TcpProbe.Connect(node.Host!, node.Port!.Value, timeout) is { } why ? $"no gpuckpt node at {node.Host}:{node.Port}: {why}" : null;

    /// <summary>The one line for a failed association: who refused, and why.</summary>
    private string RefusedBy(string reason) => $"the node at {NodeAddress} did not let this CLI in ({reason})" +
        (_certificates is null ? "" : $": its certificate, {Path.Combine(_certificates, CliIdentity)}.crt, must be issued by the cluster's CA and valid now");

    /// <summary>Asks the contacted node's /user/node; a node that does not answer, or refuses this CLI, is a one-line error.</summary>
    public async Task<T> AskNode<T>(object message, TimeSpan? timeout = null)
    {
        var selection = System.ActorSelection($"{NodeAddress}/user/{NodeActor.Name}");
        var ask = selection.Ask<T>(message, timeout ?? Timeout);
        if (await Task.WhenAny(ask, Unreached) == Unreached && !ask.IsCompleted)
            throw new InvalidOperationException(await Unreached);
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

        public AssociationWatch(TaskCompletionSource<string> refused, TaskCompletionSource associated)
        {
            Receive<AssociationErrorEvent>(e =>
            {
                var cause = e.Cause;
                while (cause.InnerException is not null) cause = cause.InnerException;
                refused.TrySetResult(cause.Message.TrimEnd('.'));
            });
            Receive<AssociatedEvent>(e =>
            {
                _associated.Add(e.RemoteAddress);
                associated.TrySetResult();
            });
            Receive<DisassociatedEvent>(e =>
            {
                if (!e.IsInbound && !_associated.Contains(e.RemoteAddress))
                    refused.TrySetResult("it closed the connection before the association came up");
            });
        }
    }

    public async ValueTask DisposeAsync() => await System.Terminate();
}
