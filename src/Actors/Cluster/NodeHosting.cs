using Akka.Hosting;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// A gpuckpt node in an Akka.Hosting host: `gpuckpt node` runs it under Microsoft.Extensions.Hosting, whose stop (SIGTERM,
/// SIGINT) runs the ActorSystem's coordinated shutdown: the node drains its migrations and jobs, then leaves the cluster.
/// The node's addressing, roles and seeds stay in hocon/ and NodeConfig (Akka.Cluster.Hosting's ClusterOptions writes
/// roles unquoted, and a node's role "node:NAME" is not a bare HOCON string; Akka.Remote.Hosting's TLS options take no
/// certificate check of our own).
/// </summary>
public static class NodeHosting
{
    /// <summary>The node's configuration and TLS setup for its ActorSystem, and its actors once that system runs (registered in the <see cref="ActorRegistry"/> by their actor types).</summary>
    public static AkkaConfigurationBuilder AddGpuckptNode(this AkkaConfigurationBuilder akka, NodeStart start)
    {
        if (start.Tls is { } tls)
        {
            akka.AddHocon(ClusterTls.RemotingConfig.WithFallback(start.Config), HoconAddMode.Prepend);
            akka.AddSetup(tls.Setup());
        }
        else
        {
            akka.AddHocon(start.Config, HoconAddMode.Prepend);
        }
        return akka.WithActors((system, registry) => start.Started(ClusterNode.Attach(system, start, registry)));
    }
}
