using Akka.Configuration;
using Gpuckpt.Engine.Settings;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// Loads a node's HOCON file over the shipped one (hocon/node.conf) with the environment's overrides on top and the node's name added to
/// its roles (role <c>node:NAME</c>), so every member can tell the others' names from the cluster state alone.
/// </summary>
public static class NodeConfig
{
    public const string NameVariable = "GPUCKPT_NODE_NAME";
    public const string HostnameVariable = "GPUCKPT_NODE_HOSTNAME";
    public const string PortVariable = "GPUCKPT_NODE_PORT";
    public const string PublicPortVariable = "GPUCKPT_NODE_PUBLIC_PORT";
    public const string SeedsVariable = "GPUCKPT_SEED_NODES";
    public const string RolesVariable = "GPUCKPT_NODE_ROLES";
    public const string DataPortVariable = "GPUCKPT_NODE_DATA_PORT";
    public const string DataPublicPortVariable = "GPUCKPT_NODE_DATA_PUBLIC_PORT";

    /// <summary>The node configuration gpuckpt ships (in hocon/).</summary>
    public const string DefaultFile = "node.conf";

    /// <summary>The role prefix that carries a member's node name.</summary>
    public const string NameRolePrefix = "node:";

    public static Config Load(string file) => Load(file, Environment.GetEnvironmentVariable);

    /// <summary><see cref="Load(string)"/> over a given environment.</summary>
    public static Config Load(string file, Func<string, string?> environment)
    {
        // A file of its own need only hold what it changes: the shipped node.conf lies under it.
        var shipped = Path.Combine(EngineConfig.Directory(), DefaultFile);
        var config = EngineConfig.Load(file);
        if (File.Exists(shipped) && Path.GetFullPath(file) != Path.GetFullPath(shipped)) config = config.WithFallback(EngineConfig.Load(shipped));
        var system = config.GetString("gpuckpt.node.system-name", "gpuckpt");
        var lines = new List<string>();
        if (environment(HostnameVariable) is { Length: > 0 } host) lines.Add($"akka.remote.dot-netty.tcp.hostname = {HoconString.Quote(host)}");
        if (EnvironmentValues.Port(PortVariable, environment) is { } port) lines.Add($"akka.remote.dot-netty.tcp.port = {port}");
        if (EnvironmentValues.Port(PublicPortVariable, environment) is { } publicPort) lines.Add($"akka.remote.dot-netty.tcp.public-port = {publicPort}");
        var protocol = Protocol(config);
        IEnumerable<string> seedList = environment(SeedsVariable) is { Length: > 0 } seeds ? Split(seeds) : config.GetStringList("akka.cluster.seed-nodes", []);
        lines.Add($"akka.cluster.seed-nodes = [{string.Join(", ", seedList.Select(s => HoconString.Quote(SeedAddress(s, system, protocol))))}]");
        if (environment(RolesVariable) is { Length: > 0 } roles)
            lines.Add($"akka.cluster.roles = [{string.Join(", ", Split(roles).Select(HoconString.Quote))}]");
        if (EnvironmentValues.Port(DataPortVariable, environment) is { } dataPort) lines.Add($"gpuckpt.migration.data-port = {dataPort}");
        if (EnvironmentValues.Port(DataPublicPortVariable, environment) is { } dataPublicPort) lines.Add($"gpuckpt.migration.data-public-port = {dataPublicPort}");
        if (environment(NameVariable) is { Length: > 0 } name) lines.Add($"gpuckpt.node.name = {HoconString.Quote(name)}");
        config = ConfigurationFactory.ParseString(string.Join("\n", lines)).WithFallback(config);

        var settings = NodeSettings.From(config);
        var withName = config.GetStringList("akka.cluster.roles", []).Where(r => !r.StartsWith(NameRolePrefix, StringComparison.Ordinal))
            .Append(NameRolePrefix + settings.Name);
        return ConfigurationFactory.ParseString($"""
            akka.cluster.roles = [{string.Join(", ", withName.Select(HoconString.Quote))}]
            gpuckpt.node.name = {HoconString.Quote(settings.Name)}
            """).WithFallback(config);
    }

    /// <summary>
    /// A member's address from HOST:PORT or a full Akka address; the scheme is always the transport's (akka.ssl.tcp with
    /// TLS, akka.tcp without), whatever the address was written with.
    /// </summary>
    public static string SeedAddress(string seed, string system, string protocol)
    {
        var scheme = seed.IndexOf("://", StringComparison.Ordinal);
        return scheme < 0 ? $"{protocol}://{system}@{seed}" : protocol + seed[scheme..];
    }

    /// <summary>The remoting scheme members use: akka.ssl.tcp when gpuckpt.tls.enabled, else akka.tcp.</summary>
    public static string Protocol(Config config) => config.GetBoolean("gpuckpt.tls.enabled", false) ? "akka.ssl.tcp" : "akka.tcp";

    private static IReadOnlyList<string> Split(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
