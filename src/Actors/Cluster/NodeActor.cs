using Akka.Actor;
using Akka.Cluster;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors.Cluster;

/// <summary>
/// A node's front door (/user/node): reports the node's GPUs and jobs, and, for the CLI, the whole cluster as this
/// member sees it, with each member's own report.
/// </summary>
public sealed class NodeActor : ReceiveActor
{
    public const string Name = "node";

    private readonly NodeSettings _settings;
    private readonly IGpuDriver _driver;
    private readonly IActorRef _jobs;
    private readonly Func<Task<Migration.MigrationsList>> _migrations;

    public NodeActor(NodeSettings settings, IGpuDriver driver, IActorRef jobs, Func<Task<Migration.MigrationsList>> migrations)
    {
        _settings = settings;
        _driver = driver;
        _jobs = jobs;
        _migrations = migrations;
        Receive<NodeInfoRequest>(_ => Info().PipeTo(Sender));
        Receive<ClusterStatusRequest>(_ => Status().PipeTo(Sender));
        // The CLI may ask any node; the source node's migrations actor coordinates.
        Receive<Migration.MigrateRequest>(m => Context.ActorSelection($"/user/{Migration.MigrationsActor.Name}").Tell(m, Sender));
        Receive<Migration.MigrateLiveRequest>(m => Context.ActorSelection($"/user/{Migration.MigrationsActor.Name}").Tell(m, Sender));
        Receive<Migration.MigrateProcessRequest>(m => Context.ActorSelection($"/user/{Migration.MigrationsActor.Name}").Tell(m, Sender));
    }

    public static Props Props(NodeSettings settings, IGpuDriver driver, IActorRef jobs, Func<Task<Migration.MigrationsList>> migrations) =>
        Akka.Actor.Props.Create(() => new NodeActor(settings, driver, jobs, migrations));

    /// <summary>The node name a member carries in its roles (role node:NAME), else its host:port.</summary>
    public static string NameOf(Member member) =>
        member.Roles.FirstOrDefault(r => r.StartsWith(NodeConfig.NameRolePrefix, StringComparison.Ordinal))?[NodeConfig.NameRolePrefix.Length..]
        ?? $"{member.Address.Host}:{member.Address.Port}";

    /// <summary>Whether <paramref name="name"/> (a node name or HOST:PORT, as a command gives it) names <paramref name="member"/>.</summary>
    public static bool Named(Member member, string name) => NameOf(member) == name || $"{member.Address.Host}:{member.Address.Port}" == name;

    private async Task<NodeInfo> Info()
    {
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        var driver = _driver;
        var gpus = await Task.Run(driver.Topology).ConfigureAwait(false);
        var running = await _jobs.Ask<RunningJobs>(ListJobs.Instance, _settings.StatusTimeout).ConfigureAwait(false);
        var jobs = running.JobIds.Select(id => new NodeJob(id, KindOf(id), "running", "")).ToList();
        var migrations = await _migrations().ConfigureAwait(false);
        jobs.AddRange(migrations.Jobs);
        return new NodeInfo(_settings.Name, self.ToString(), driver.Name, gpus, jobs, migrations.Leaving);
    }

    private async Task<ClusterStatus> Status()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var state = cluster.State;
        var system = Context.System;
        var timeout = _settings.StatusTimeout;
        var reports = state.Members.Select(async m =>
        {
            var reachable = !state.Unreachable.Contains(m);
            NodeInfo? info = null;
            if (reachable && m.Status is MemberStatus.Up or MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Leaving)
            {
                try
                {
                    info = await system.ActorSelection(new RootActorPath(m.Address) / "user" / Name)
                        .Ask<NodeInfo>(NodeInfoRequest.Instance, timeout).ConfigureAwait(false);
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    info = null;
                }
            }
            return new MemberInfo(NameOf(m), m.Address.ToString(), m.Status.ToString().ToLowerInvariant(), reachable, [.. m.Roles.Order(StringComparer.Ordinal)], info);
        });
        var members = await Task.WhenAll(reports).ConfigureAwait(false);
        return new ClusterStatus(_settings.Name, state.Leader?.ToString(), [.. members.OrderBy(m => m.Name, StringComparer.Ordinal)]);
    }

    private static string KindOf(string jobId) =>
        jobId.StartsWith(JobsActor.CheckpointPrefix, StringComparison.Ordinal) ? "checkpoint"
        : jobId.StartsWith(JobsActor.RestorePrefix, StringComparison.Ordinal) ? "restore"
        : "job";
}
