using Akka.Configuration;

namespace Gpuckpt.Actors.Cluster;

/// <summary>A node's identity and knobs: <c>gpuckpt.node</c> and the remoting address of its HOCON.</summary>
public sealed record NodeSettings(
    string Name,
    string SystemName,
    string Hostname,
    int Port,
    TimeSpan DrainTimeout,
    TimeSpan StatusTimeout,
    int SimulatorGpus,
    uint SimulatorIdSeed,
    int PublicPort = 0,
    string Protocol = "akka.tcp",
    ulong SimulatorResidentVram = 0)
{
    /// <summary>The address other members know this node by (the public port where one is set, behind a forwarder).</summary>
    public string SelfAddress => $"{Protocol}://{SystemName}@{Hostname}:{(PublicPort > 0 ? PublicPort : Port)}";

    public static NodeSettings From(Config config)
    {
        var host = config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1");
        var port = config.GetInt("akka.remote.dot-netty.tcp.port", 0);
        var name = config.GetString("gpuckpt.node.name", "");
        return new NodeSettings(
            string.IsNullOrWhiteSpace(name) ? $"{host}:{port}" : name,
            config.GetString("gpuckpt.node.system-name", "gpuckpt"),
            host,
            port,
            config.GetTimeSpan("gpuckpt.node.drain-timeout", TimeSpan.FromMinutes(5)),
            config.GetTimeSpan("gpuckpt.node.status-timeout", TimeSpan.FromSeconds(5)),
            config.GetInt("gpuckpt.node.simulator.gpus", 2),
            (uint)config.GetInt("gpuckpt.node.simulator.id-seed", 0),
            config.GetInt("akka.remote.dot-netty.tcp.public-port", 0),
            NodeConfig.Protocol(config),
            config.GetByteSize("gpuckpt.node.simulator.resident-vram") is > 0 and var resident ? (ulong)resident : 0);
    }
}
