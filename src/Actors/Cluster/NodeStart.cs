using Akka.Configuration;
using Gpuckpt.Actors.Migration;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// A node before its ActorSystem exists: its settings, its configuration with the seeds its membership record gives it,
/// its TLS identity, its driver and kernel. Whatever would refuse the node is checked here, before anything starts.
/// <see cref="NodeHosting.AddGpuckptNode"/> builds the node from it into a host; <see cref="Node"/> completes once the
/// node's actors run.
/// </summary>
public sealed class NodeStart
{
    private readonly TaskCompletionSource<ClusterNode> _node = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeStart(IGpuDriver driver, Config config, NodeSettings settings, MembershipRecord membership, bool rejoinOnly,
        ClusterTls? tls, IReadOnlyList<string>? selfCommand, IProcessKernel? kernel)
    {
        Driver = driver;
        Config = config;
        Settings = settings;
        Membership = membership;
        RejoinOnly = rejoinOnly;
        Tls = tls;
        SelfCommand = selfCommand;
        Kernel = kernel;
    }

    public IGpuDriver Driver { get; }

    /// <summary>The node's configuration, its seeds put in the order its membership record asks for.</summary>
    public Config Config { get; }
    public NodeSettings Settings { get; }
    public MembershipRecord Membership { get; }

    /// <summary>The node was a member and did not leave: it rejoins through the other seeds rather than forming a cluster.</summary>
    public bool RejoinOnly { get; }

    /// <summary>Mutual TLS for the node's remoting and data link; null when gpuckpt.tls.enabled is off.</summary>
    public ClusterTls? Tls { get; }

    /// <summary>This gpuckpt as a command, for whole-process migrations (null: the node takes none).</summary>
    public IReadOnlyList<string>? SelfCommand { get; }

    /// <summary>The kernel this node hosts for GPU processes (null: the machine's own).</summary>
    public IProcessKernel? Kernel { get; }

    /// <summary>The node, once its host has started its actors.</summary>
    public Task<ClusterNode> Node => _node.Task;

    public static NodeStart For(IGpuDriver driver, Config config, IReadOnlyList<string>? selfCommand = null, IProcessKernel? kernel = null)
    {
        var settings = NodeSettings.From(config);
        var membership = new MembershipRecord(config.GetString("gpuckpt.state-dir", Path.GetTempPath()));
        (config, var rejoinOnly) = membership.Seeds(config, settings.SelfAddress);
        // A member presents its node certificate and admits only peers whose certificates come from the cluster's CA.
        var tls = ClusterTls.For(config, settings.Name);
        // A certificate that expired would only be refused by the seed, which a joining node learns of late (TLS 1.3
        // lets its side of the handshake finish first): it is checked here, before anything starts.
        if (tls is not null && tls.Authority.Check(tls.Certificate) is { } own)
            throw new InvalidOperationException($"node {settings.Name} cannot join with its certificate, " +
                $"{Path.Combine(ClusterTls.DirOf(config), settings.Name)}.crt: {own}; issue it a new one with `gpuckpt cluster add-node {settings.Name}` where the CA's key is");
        Persistence.JournalCheck.Opens(config);
        return new NodeStart(driver, config, settings, membership, rejoinOnly, tls, selfCommand, kernel);
    }

    internal void Started(ClusterNode node) => _node.TrySetResult(node);
}
