using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// A node's migrations (/user/migrations): starts a coordinator for each migration out of this node and a target for
/// each one into it, routes their messages by migration id, and on start continues those a killed engine left
/// (their directories under the state directory say which). It keeps the list of processes that arrived here by
/// migration (<see cref="ArrivedProcesses"/>, on disk). A leaving node (<see cref="DrainMigrations"/>) refuses new
/// migrations, in or out, and answers once those running have ended.
/// </summary>
public sealed class MigrationsActor : ReceiveActor
{
    public const string Name = "migrations";
    private const string OutPrefix = "out-", InPrefix = "in-", CriuOutPrefix = "out-criu-", CriuInPrefix = "in-criu-";

    private readonly NodeSettings _node;
    private readonly IGpuDriver _driver;
    private readonly IActorRef _jobs;
    private readonly MigrationSettings _settings;
    private readonly ArrivedProcesses _record;
    private readonly Dictionary<string, ArrivedProcess> _arrived = new(StringComparer.Ordinal);
    private readonly HashSet<IActorRef> _running = [];
    private readonly List<IActorRef> _drainWaiters = [];
    private readonly List<(IActorRef Asker, CriuAbortTarget Ask)> _criuAsked = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private List<IActorRef> _recordWaiters = [];
    private bool _loaded, _writing, _dirty, _leaving;

    public MigrationsActor(NodeSettings node, IGpuDriver driver, IActorRef jobs, MigrationSettings settings)
    {
        _node = node;
        _driver = driver;
        _jobs = jobs;
        _settings = settings;
        _record = new ArrivedProcesses(settings.StateDir);
        Receive<MigrateRequest>(r => Migrate(r, r.Pid, r.From, false));
        Receive<MigrateLiveRequest>(r => Migrate(r, r.Pid, r.From, false));
        Receive<MigrateProcessRequest>(r => Migrate(r, r.Pid, r.From, true));
        Receive<PrepareTarget>(Prepare);
        Receive<CriuTargetCheck>(PrepareCriu);
        Receive<CriuAbortTarget>(AbortCriu);
        Receive<CommitTarget>(c => Target(c.MigrationId).Forward(c));
        Receive<AbortTarget>(a => Target(a.MigrationId).Forward(a));
        Receive<QueryMigration>(q => Coordinator(q.MigrationId).Forward(q));
        Receive<MigrationDecision>(d => Target(d.MigrationId).Forward(d));
        Receive<TargetResumed>(r => Coordinator(r.MigrationId).Forward(r));
        Receive<TargetAborted>(a => Coordinator(a.MigrationId).Forward(a));
        Receive<ProcessArrived>(a =>
        {
            _arrived[a.MigrationId] = new ArrivedProcess(a.MigrationId, a.Pid, a.From);
            RecordArrived(Sender);
        });
        Receive<ArrivedLoaded>(Loaded);
        Receive<ArrivedWritten>(Written);
        Receive<ListMigrations>(_ => List());
        Receive<ArrivedChecked>(Checked);
        Receive<DrainMigrations>(_ =>
        {
            _leaving = true;
            _drainWaiters.Add(Sender);
            if (_running.Count > 0)
                _log.Info("node {0} is leaving: waiting for its {1} running migrations to end", _node.Name, _running.Count);
            ReplyIfDrained();
        });
        Receive<Terminated>(t =>
        {
            _running.Remove(t.ActorRef);
            ReplyIfDrained();
        });
        // Coordinators a restart resumed report to this actor: nobody is watching their progress.
        Receive<MigrationProgress>(_ => { });
        Receive<MigrationCompleted>(_ => { });
        Receive<MigrationFailed>(_ => { });
    }

    public static Props Props(NodeSettings node, IGpuDriver driver, IActorRef jobs, MigrationSettings settings) =>
        Akka.Actor.Props.Create(() => new MigrationsActor(node, driver, jobs, settings));

    public static string NewId() => "migr-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Why a leaving node takes no new migration, in or out.</summary>
    public static string LeavingReason(string node) =>
        $"node {node} is leaving the cluster: it finishes its running migrations and takes no new ones";

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    /// <summary>
    /// Migrations a killed engine left: continued (coordinators) or settled with their coordinator (targets). The list
    /// of arrived processes is read back, without those that no longer exist.
    /// </summary>
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
        var criuOut = Path.GetDirectoryName(_settings.CriuOutgoingDir("x"))!;
        if (Directory.Exists(criuOut))
            foreach (var dir in Directory.EnumerateDirectories(criuOut))
            {
                var id = Path.GetFileName(dir);
                Start(CriuMigrationSource.Resume(id, _node.Name, _settings, Self), CriuOutPrefix + id);
            }
        // Images a killed target was receiving or restoring go: their sources ask about them (see AbortCriu).
        var criuIn = Path.GetDirectoryName(_settings.CriuIncomingDir("x"))!;
        if (Directory.Exists(criuIn))
            foreach (var dir in Directory.EnumerateDirectories(criuIn)) Directory.Delete(dir, recursive: true);
        var record = _record;
        var driver = _driver;
        Task.Run(() =>
        {
            IReadOnlyList<ArrivedProcess> all;
            try
            {
                all = record.Read();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                return new ArrivedLoaded([], 0, e.Message);
            }
            return new ArrivedLoaded(ArrivedProcesses.StillRunning(driver, all), all.Count, null);
        }).PipeTo(Self, failure: e => new ArrivedLoaded([], 0, e.GetBaseException().Message));
    }

    private void Migrate(IMigrationMessage request, uint pid, string from, bool whole)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var source = cluster.State.Members.FirstOrDefault(m => m.Status == MemberStatus.Up && NodeActor.Named(m, from));
        if (source is null)
        {
            Sender.Tell(new MigrationFailed("", pid, from, "dry check", $"no member named {from} is up in the cluster", false));
            return;
        }
        if (source.Address != cluster.SelfAddress)
        {
            // Any node takes the request; the source node coordinates it.
            Context.ActorSelection(new RootActorPath(source.Address) / "user" / Name).Tell(request, Sender);
            return;
        }
        if (_leaving)
        {
            Sender.Tell(new MigrationFailed("", pid, _node.Name, "dry check", LeavingReason(_node.Name), false));
            return;
        }
        var id = NewId();
        if (whole) Start(CriuMigrationSource.Props(id, (MigrateProcessRequest)request, _node.Name, _settings, Sender), CriuOutPrefix + id);
        else if (request is MigrateLiveRequest live) Start(MigrationCoordinator.Props(id, live.Request, _node.Name, _driver, _jobs, _settings, Sender, live: true), OutPrefix + id);
        else Start(MigrationCoordinator.Props(id, (MigrateRequest)request, _node.Name, _driver, _jobs, _settings, Sender), OutPrefix + id);
    }

    /// <summary>A whole-process migration into this node: its target answers the source (a leaving node refuses).</summary>
    private void PrepareCriu(CriuTargetCheck check)
    {
        if (_leaving)
        {
            Sender.Tell(new TargetFailed(check.MigrationId, _node.Name, "prepare target", LeavingReason(_node.Name)));
            return;
        }
        var held = Context.Child(CriuInPrefix + check.MigrationId);
        if (!held.IsNobody())
        {
            // Its source was restarted after the dump and sends the image again.
            held.Forward(check);
            return;
        }
        Start(CriuMigrationTarget.Props(check.MigrationId, _node.Name, _settings), CriuInPrefix + check.MigrationId).Forward(check);
    }

    /// <summary>
    /// A whole-process source asks whether its process runs here. Its target answers if it still exists. Otherwise the
    /// list of arrived processes says it does; with no target and no such entry, a process under the pid here may still
    /// be it (restored by a target killed before it recorded it): nothing is answered, and the source keeps its dump and
    /// says so. Else nothing of it is here.
    /// </summary>
    private void AbortCriu(CriuAbortTarget ask)
    {
        var child = Context.Child(CriuInPrefix + ask.MigrationId);
        if (!child.IsNobody())
        {
            child.Forward(ask);
            return;
        }
        if (!_loaded)
        {
            _criuAsked.Add((Sender, ask));
            return;
        }
        if (_arrived.TryGetValue(ask.MigrationId, out var arrived))
            Sender.Tell(new CriuTargetAborted(ask.MigrationId, true, arrived.Pid, null));
        else if (ask.Pid == 0 || ProcessIdentity.Taken(ask.Pid))
            _log.Warning("migration {0}: pid {1} runs here but no migration brought it here that this node recorded; the source is not told it is gone, so it keeps its dump",
                ask.MigrationId, ask.Pid);
        else
            Sender.Tell(new CriuTargetAborted(ask.MigrationId, false, 0, $"node {_node.Name} holds nothing of migration {ask.MigrationId}"));
    }

    /// <summary>A leaving node refuses to be the target of a migration it does not already hold.</summary>
    private void Prepare(PrepareTarget prepare)
    {
        if (_leaving && Context.Child(InPrefix + prepare.MigrationId).IsNobody())
        {
            Sender.Tell(new TargetFailed(prepare.MigrationId, _node.Name, "prepare target", LeavingReason(_node.Name)));
            return;
        }
        Target(prepare.MigrationId).Forward(prepare);
    }

    private IActorRef Coordinator(string id)
    {
        var child = Context.Child(OutPrefix + id);
        return child.IsNobody()
            ? Start(MigrationCoordinator.Props(id, null, _node.Name, _driver, _jobs, _settings, Self), OutPrefix + id)
            : child;
    }

    private IActorRef Target(string id)
    {
        var child = Context.Child(InPrefix + id);
        return child.IsNobody() ? Start(MigrationTarget.Props(id, _node.Name, _jobs, _settings), InPrefix + id) : child;
    }

    /// <summary>Every coordinator and target is watched: a leaving node waits for them to stop.</summary>
    private IActorRef Start(Props props, string name)
    {
        var child = Context.ActorOf(props, name);
        Context.Watch(child);
        _running.Add(child);
        return child;
    }

    private void ReplyIfDrained()
    {
        if (!_leaving || _running.Count > 0) return;
        foreach (var waiter in _drainWaiters) waiter.Tell(MigrationsDrained.Instance);
        _drainWaiters.Clear();
    }

    // ---- the processes that arrived here -------------------------------------------------------------------------

    private void Loaded(ArrivedLoaded loaded)
    {
        _loaded = true;
        if (loaded.Error is not null)
            _log.Warning("the list of processes that arrived by migration ({0}) could not be read, so `cluster status` does not show them: {1}",
                _record.Path, loaded.Error);
        // Arrivals announced while the file was being read are newer than what it says.
        foreach (var process in loaded.Running) _arrived.TryAdd(process.MigrationId, process);
        if (loaded.Running.Count < loaded.Read) _dirty = true;
        WriteArrived();
        foreach (var (asker, ask) in _criuAsked) Self.Tell(ask, asker);
        _criuAsked.Clear();
    }

    private void RecordArrived(IActorRef? waiter)
    {
        if (waiter is not null && !waiter.IsNobody()) _recordWaiters.Add(waiter);
        _dirty = true;
        WriteArrived();
    }

    /// <summary>One write at a time, of the whole list; changes made meanwhile go into the next.</summary>
    private void WriteArrived()
    {
        if (!_loaded || _writing || !_dirty) return;
        _dirty = false;
        _writing = true;
        var waiters = _recordWaiters;
        _recordWaiters = [];
        var list = _arrived.Values.ToList();
        var record = _record;
        Task.Run(() =>
        {
            try
            {
                record.Write(list);
                return new ArrivedWritten(waiters, null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new ArrivedWritten(waiters, e.Message);
            }
        }).PipeTo(Self, failure: e => new ArrivedWritten(waiters, e.GetBaseException().Message));
    }

    private void Written(ArrivedWritten written)
    {
        _writing = false;
        if (written.Error is not null)
            _log.Warning("the list of processes that arrived by migration could not be written to {0}: {1}; a restarted node will not list them",
                _record.Path, written.Error);
        foreach (var waiter in written.Waiters) waiter.Tell(ArrivalRecorded.Instance);
        WriteArrived();
    }

    /// <summary>Running migrations, then the arrived processes that still exist (those gone are dropped from the list).</summary>
    private void List()
    {
        var replyTo = Sender;
        var leaving = _leaving;
        List<Cluster.NodeJob> migrations = [.. Context.GetChildren().Select(c => c.Path.Name).Order(StringComparer.Ordinal)
            .Select(n => n.StartsWith(OutPrefix, StringComparison.Ordinal)
                ? new Cluster.NodeJob(n[OutPrefix.Length..], "migration", "running", "out of this node")
                : new Cluster.NodeJob(n[InPrefix.Length..], "migration", "running", "into this node"))];
        var arrived = _arrived.Values.ToList();
        if (arrived.Count == 0)
        {
            replyTo.Tell(new MigrationsList(migrations, leaving));
            return;
        }
        var driver = _driver;
        Task.Run(() => new ArrivedChecked(arrived, ArrivedProcesses.StillRunning(driver, arrived), migrations, leaving, replyTo))
            .PipeTo(Self, failure: _ => new ArrivedChecked(arrived, arrived, migrations, leaving, replyTo));
    }

    private void Checked(ArrivedChecked check)
    {
        var gone = check.Listed.Except(check.Running).Where(p => _arrived.TryGetValue(p.MigrationId, out var now) && now == p).ToList();
        foreach (var process in gone) _arrived.Remove(process.MigrationId);
        if (gone.Count > 0) RecordArrived(null);
        check.ReplyTo.Tell(new MigrationsList([.. check.Migrations, .. check.Running.Select(p =>
            new Cluster.NodeJob(p.MigrationId, "process", "running", $"pid {p.Pid}, migrated from {p.From}"))], check.Leaving));
    }

    private sealed record ArrivedLoaded(IReadOnlyList<ArrivedProcess> Running, int Read, string? Error) : INoSerializationVerificationNeeded;

    private sealed record ArrivedWritten(IReadOnlyList<IActorRef> Waiters, string? Error) : INoSerializationVerificationNeeded;

    private sealed record ArrivedChecked(
        IReadOnlyList<ArrivedProcess> Listed,
        IReadOnlyList<ArrivedProcess> Running,
        IReadOnlyList<Cluster.NodeJob> Migrations,
        bool Leaving,
        IActorRef ReplyTo) : INoSerializationVerificationNeeded;
}
