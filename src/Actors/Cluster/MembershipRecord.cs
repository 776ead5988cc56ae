using Akka.Configuration;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// Whether this node has been a member of its cluster and did not leave it gracefully (it crashed, was killed, or was
/// downed): a file in its state directory, written once the node is Up and removed after a graceful leave.
/// Such a node rejoins; it never forms a new cluster of its own. The first seed node forms the cluster when no other
/// seed answers within seed-node-timeout, and a restarted first seed on a busy host easily misses that window while
/// the cluster it belonged to still runs: it would come up alone, a second cluster beside the first. So a node with a
/// record moves itself out of the first place of its seed list, and forms a cluster only after
/// <c>gpuckpt.node.form-after</c> in which no seed answered (the whole cluster was down).
/// </summary>
public sealed class MembershipRecord(string stateDir)
{
    public const string FileName = "cluster-member";

    public string Path { get; } = System.IO.Path.Combine(stateDir, FileName);

    public bool Exists => File.Exists(Path);

    /// <summary>Written once this node is Up (the address it had then, for the operator).</summary>
    public void Write(string address)
    {
        var tmp = Path + ".tmp";
        File.WriteAllText(tmp, address + "\n");
        File.Move(tmp, Path, overwrite: true);
    }

    /// <summary>After a graceful leave: a later start of this node may form a cluster again if it is the first seed.</summary>
    public void Clear() => File.Delete(Path);

    /// <summary>
    /// The seed nodes this node starts with: as configured, except that a node with a record that is the first seed
    /// goes last, so that it only joins. True in <c>Reordered</c> when that happened.
    /// </summary>
    public (Config Config, bool Reordered) Seeds(Config config, string selfAddress)
    {
        var seeds = config.GetStringList("akka.cluster.seed-nodes", []);
        if (!Exists || seeds.Count < 2 || !Same(seeds[0], selfAddress)) return (config, false);
        var reordered = seeds.Skip(1).Append(seeds[0]).Select(s => "\"" + s + "\"");
        return (ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{string.Join(", ", reordered)}]").WithFallback(config), true);
    }

    private static bool Same(string seed, string self) =>
        string.Equals(seed.TrimEnd('/'), self.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}
