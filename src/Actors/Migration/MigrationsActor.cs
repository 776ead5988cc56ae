using Akka.Actor;
using Akka.Cluster;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A node's migrations (/user/migrations): starts a coordinator for each migration out of this node and a target for
/// each one into it, routes their messages by migration id, and on start continues those a killed engine left
/// (their directories under the state directory say which).
/// </summary>
public sealed class MigrationsActor : ReceiveActor
{
    public const string Name = "migrations";
    private const string OutPrefix = "out-", InPrefix = "in-";

    private readonly NodeSettings _node;
    private readonly IGpuDriver _driver;
    private readonly IActorRef _jobs;
    private readonly MigrationSettings _settings;
    private readonly List<NodeJob> _arrived = [];

    public MigrationsActor(NodeSettings node, IGpuDriver driver, IActorRef jobs, MigrationSettings settings)
    {
        _node = node;
        _driver = driver;
        _jobs = jobs;
        _settings = settings;
        Receive<MigrateRequest>(Migrate);
        Receive<PrepareTarget>(p => Target(p.MigrationId).Forward(p));
        Receive<CommitTarget>(c => Target(c.MigrationId).Forward(c));
        Receive<AbortTarget>(a => Target(a.MigrationId).Forward(a));
        Receive<QueryMigration>(q => Coordinator(q.MigrationId).Forward(q));
        Receive<MigrationDecision>(d => Target(d.MigrationId).Forward(d));
        Receive<TargetResumed>(r => Coordinator(r.MigrationId).Forward(r));
        Receive<TargetAborted>(a => Coordinator(a.MigrationId).Forward(a));
        Receive<ProcessArrived>(a => _arrived.Add(new NodeJob(a.MigrationId, "process", "running", $"pid {a.Pid}, migrated from {a.From}")));
        Receive<ListMigrations>(_ => Sender.Tell(new MigrationsList([.. Context.GetChildren().Select(c => c.Path.Name).Order(StringComparer.Ordinal)
            .Select(n => n.StartsWith(OutPrefix, StringComparison.Ordinal)
                ? new NodeJob(n[OutPrefix.Length..], "migration", "running", "out of this node")
                : new NodeJob(n[InPrefix.Length..], "migration", "running", "into this node")), .. _arrived])));
        // Coordinators a restart resumed report to this actor: nobody is watching their progress.
        Receive<MigrationProgress>(_ => { });
        Receive<MigrationCompleted>(_ => { });
        Receive<MigrationFailed>(_ => { });
    }

    public static Props Props(NodeSettings node, IGpuDriver driver, IActorRef jobs, MigrationSettings settings) =>
        Akka.Actor.Props.Create(() => new MigrationsActor(node, driver, jobs, settings));

    public static string NewId() => "migr-" + Guid.NewGuid().ToString("N")[..12];

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    /// <summary>Migrations a killed engine left: continued (coordinators) or settled with their coordinator (targets).</summary>
    protected override void PreStart()
    {
        foreach (var (root, start) in new (string, Func<string, IActorRef>)[]
                 {
                     (Path.GetDirectoryName(_settings.OutgoingDir("x"))!, Coordinator),
                     (Path.GetDirectoryName(_settings.IncomingDir("x"))!, Target),
                 })
        {
            if (!Directory.Exists(root)) continue;
            foreach (var dir in Directory.EnumerateDirectories(root)) start(Path.GetFileName(dir));
        }
    }

    private void Migrate(MigrateRequest request)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        bool Named(Member m, string name) => NodeActor.NameOf(m) == name || $"{m.Address.Host}:{m.Address.Port}" == name;
        var source = cluster.State.Members.FirstOrDefault(m => m.Status == MemberStatus.Up && Named(m, request.From));
        if (source is null)
        {
            Sender.Tell(new MigrationFailed("", request.Pid, request.From, "dry check", $"no member named {request.From} is up in the cluster", false));
            return;
        }
        if (source.Address != cluster.SelfAddress)
        {
            // Any node takes the request; the source node coordinates it.
            Context.ActorSelection(new RootActorPath(source.Address) / "user" / Name).Tell(request, Sender);
            return;
        }
        var id = NewId();
        Context.ActorOf(MigrationCoordinator.Props(id, request, _node.Name, _driver, _jobs, _settings, Sender), OutPrefix + id);
    }

    private IActorRef Coordinator(string id)
    {
        var child = Context.Child(OutPrefix + id);
        return child.IsNobody()
            ? Context.ActorOf(MigrationCoordinator.Props(id, null, _node.Name, _driver, _jobs, _settings, Self), OutPrefix + id)
            : child;
    }

    private IActorRef Target(string id)
    {
        var child = Context.Child(InPrefix + id);
        return child.IsNobody() ? Context.ActorOf(MigrationTarget.Props(id, _node.Name, _jobs, _settings), InPrefix + id) : child;
    }
}
