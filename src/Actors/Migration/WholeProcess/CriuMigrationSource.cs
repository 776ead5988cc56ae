using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The source side of a whole-process migration (<c>migrate --criu</c>): the target answers that it can restore the
/// process (nothing is touched otherwise) → CRIU dumps it here (it ends) → every file of the image goes to the target
/// over remoting, one piece at a time → the target verifies process.json and restores it. Any failure after the dump
/// and before the target's restore: the target removes what it got and this node restores its own dump, so the process
/// runs again here, never in two places and never in none. A target that does not say whether it restored leaves the
/// dump here untouched (restoring it could make a second copy). The dump stays in
/// <see cref="MigrationSettings.CriuOutgoingDir"/> until the target restored it or the process runs here again, with a
/// record of the step reached (<see cref="CriuMigrationRecord"/>): a node killed in the middle continues from it when
/// it starts again (<see cref="Resume"/>).
/// </summary>
public sealed partial class CriuMigrationSource : ReceiveActor, IWithTimers
{
    private readonly string _id;
    private readonly bool _resumed;
    private MigrateProcessRequest _request;
    private readonly string _self;
    private readonly MigrationSettings _settings;
    private readonly IActorRef _replyTo;
    private readonly string _dir, _images;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private IReadOnlyList<(string Name, long Size)> _files = [];
    private IActorRef? _target;
    private IProcessKernel? _kernel;
    private CriuMigrationRecord? _record;
    private (Action<Member> Found, Action? Absent, TimeSpan? Until, TimeSpan Cap) _lookup;
    private string _targetName = "";
    private ProcessIdentity? _source;
    private int _file;
    private long _offset, _bytesTotal, _bytesSent;
    private double _dumpStartedAt, _transferStartedAt, _transferSeconds;

    public CriuMigrationSource(string migrationId, MigrateProcessRequest? request, string selfName, MigrationSettings settings, IActorRef replyTo)
    {
        _id = migrationId;
        _resumed = request is null;
        _request = request ?? new MigrateProcessRequest(0, selfName, "");
        _self = selfName;
        _settings = settings;
        _replyTo = replyTo;
        _dir = settings.CriuOutgoingDir(migrationId);
        _images = Path.Combine(_dir, "image");
        if (_resumed) Recovering();
        else Checking();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string migrationId, MigrateProcessRequest request, string selfName, MigrationSettings settings, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new CriuMigrationSource(migrationId, request, selfName, settings, replyTo));

    /// <summary>The migration a killed node left in its directory, continued from the step its record names.</summary>
    public static Props Resume(string migrationId, string selfName, MigrationSettings settings, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new CriuMigrationSource(migrationId, null, selfName, settings, replyTo));

    private uint Pid => _request.Pid;

    protected override void PreStart()
    {
        if (_resumed)
        {
            var dir = _dir;
            var images = _images;
            var limit = _settings.RestoreTimeout;
            RecoverAsync(dir, images, limit).PipeTo(Self, failure: e => new Lost(null, e.GetBaseException().Message));
            return;
        }
        var pid = Pid;
        var settings = _settings;
        var self = _self;
        Task.Run(() => Check(pid, self, settings)).PipeTo(Self, failure: e => new Refused(e.GetBaseException().Message));
    }

    /// <summary>This node can dump the process: CRIU here, the process here.</summary>
    private static object Check(uint pid, string self, MigrationSettings settings)
    {
        if (settings.SelfCommand is null) return new Refused($"node {self} runs inside another program and cannot run gpuckpt's CRIU commands");
        CriuInstall.Require();
        if (ProcessIdentity.Of(pid) is not { } identity) return new Refused($"no process {pid} on node {self}");
        return settings.Kernel?.Refusal(pid) is { } refusal ? new Refused(refusal) : new SourceChecked(identity);
    }

    // ---- before the dump: nothing is touched -----------------------------------------------------------------------

    private void Checking()
    {
        Receive<Refused>(r => Finish(new ProcessMigrationFailed(_id, Pid, _self, "dry check", r.Reason, false, $"pid {Pid} was not touched")));
        Receive<SourceChecked>(Ask);
        Receive<CriuTargetReady>(Ready);
        Receive<TargetFailed>(f => Finish(new ProcessMigrationFailed(_id, Pid, f.Node, f.Step, f.Reason, false, $"pid {Pid} was not touched")));
        Receive<StepTimedOut>(t => Finish(new ProcessMigrationFailed(_id, Pid, _targetName, "dry check",
            $"node {_targetName} did not answer within {t.After.TotalSeconds:F0} s", false, $"pid {Pid} was not touched")));
    }

    private void Ask(SourceChecked check)
    {
        _source = check.Identity;
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var target = cluster.State.Members.FirstOrDefault(m => m.Status == MemberStatus.Up && NodeActor.Named(m, _request.To));
        if (target is null)
        {
            Self.Tell(new Refused($"no member named {_request.To} is up in the cluster"));
            return;
        }
        _targetName = NodeActor.NameOf(target);
        if (target.Address == cluster.SelfAddress)
        {
            Self.Tell(new Refused($"node {_self} is the source: a process migrates to another node"));
            return;
        }
        Context.ActorSelection(new RootActorPath(target.Address) / "user" / MigrationsActor.Name).Tell(new CriuTargetCheck(_id, _self, check.Identity, _settings.Kernel?.Holds(Pid) == true), Self);
        Timers.StartSingleTimer("step", new StepTimedOut(_settings.RequestTimeout), _settings.RequestTimeout);
    }

    private void Ready(CriuTargetReady ready)
    {
        Timers.Cancel("step");
        _target = Sender;
        Context.Watch(_target);
        Progress("dump");
        _dumpStartedAt = _clock.Elapsed.TotalSeconds;
        Become(Dumping);
        var command = _settings.SelfCommand!;
        var images = _images;
        var dir = _dir;
        var engineDir = _settings.CriuEngineDir;
        var limit = _settings.RestoreTimeout;
        var pid = Pid;
        // A process under this node's kernel is dumped under it: the kernel answers CRIU's device requests for it.
        _kernel = _settings.Kernel is { } k && k.Holds(pid) ? k : null;
        var kernel = _kernel;
        var record = _record = CriuMigrationRecord.Start(_id, _request.From, _request.To, _source!, kernel is not null);
        Task.Run(async () =>
        {
            // Written before the dump begins: a node killed from here on finds the migration when it starts again.
            record.Write(dir);
            CrashPoints.Hit("criu-migration-started");
            string[] args = ["checkpoint", "--criu", "--pid", $"{pid}", "--images", images, "--state-dir", engineDir, "--json"];
            var result = kernel is null
                ? await GpuckptChild.RunAsync(command, args, limit).ConfigureAwait(false)
                // The kernel's stand-ins share its launcher's session.
                : await kernel.DumpAsync(pid, [.. args, "--shell-job"], limit).ConfigureAwait(false);
            if (result.ExitCode != 0) return (object)new DumpFailed(result.Reason);
            (record with { Step = CriuMigrationStep.Dumped }).Write(dir);
            CrashPoints.Hit("criu-migration-dumped");
            return new Dumped(WholeProcessImageFiles.List(images));
        }).PipeTo(Self, failure: e => new DumpFailed(e.GetBaseException().Message));
    }

    // ---- the dump ----------------------------------------------------------------------------------------------------

    private void Dumping()
    {
        Receive<Dumped>(d =>
        {
            _files = d.Files;
            _bytesTotal = d.Files.Sum(f => f.Size);
            _transferStartedAt = _clock.Elapsed.TotalSeconds;
            Become(Sending);
            ReadNext();
        });
        Receive<DumpFailed>(AfterDumpFailed);
        // The target's answers wait: what it says now matters only once the dump has ended.
        Receive<Terminated>(_ => { });
        Receive<TargetFailed>(_ => { });
    }

    private void AfterDumpFailed(DumpFailed failed)
    {
        _target?.Tell(new CriuAbortTarget(_id, Pid));
        var source = _source;
        var dir = _dir;
        Task.Run(() =>
        {
            // CRIU lets a process it could not dump go on; one it ended is brought back from what it wrote, if that verifies.
            if (source!.SameAs(ProcessIdentity.Of(source.Pid)))
            {
                Directory.Delete(dir, recursive: true);
                return (object)new Refused($"{failed.Reason}; pid {source.Pid} runs on, untouched");
            }
            return new RollBack("dump", failed.Reason);
        }).PipeTo(Self, failure: e => new RollBack("dump", $"{failed.Reason}; {e.GetBaseException().Message}"));
        Become(() =>
        {
            Receive<Refused>(r => Finish(new ProcessMigrationFailed(_id, Pid, _self, "dump", r.Reason, false, $"pid {Pid} was not moved")));
            Receive<RollBack>(StartRollBack);
            Receive<CriuTargetAborted>(_ => { });
            Receive<Terminated>(_ => { });
            Receive<TargetFailed>(_ => { });
        });
    }

    // ---- the image to the target, one piece at a time --------------------------------------------------------------

    private void Sending()
    {
        Receive<RestoreRecorded>(_ =>
        {
            _target!.Tell(new CriuRestoreTarget(_id, _files.Count, _bytesTotal));
            var wait = _settings.RestoreTimeout + _settings.PidFreeTimeout + _settings.RequestTimeout;
            Timers.StartSingleTimer("step", new StepTimedOut(wait), wait);
            Become(Restoring);
        });
        Receive<PieceRead>(p =>
        {
            _target!.Tell(p.Piece);
            Timers.StartSingleTimer("step", new StepTimedOut(_settings.RequestTimeout), _settings.RequestTimeout);
        });
        Receive<CriuPieceStored>(Stored);
        Receive<ReadFailed>(f => Fail("transfer", _self, f.Reason));
        Receive<TargetFailed>(f => Fail(f.Step, f.Node, f.Reason));
        Receive<Terminated>(_ => Fail("transfer", _targetName, $"node {_targetName} is gone"));
        Receive<StepTimedOut>(t => Fail("transfer", _targetName, $"node {_targetName} stored no piece of the image within {t.After.TotalSeconds:F0} s"));
    }

    private void ReadNext()
    {
        if (_file == _files.Count)
        {
            _transferSeconds = _clock.Elapsed.TotalSeconds - _transferStartedAt;
            Progress("restore");
            // Recorded before the target is asked: from then on only the target can say whether the process runs there.
            var record = _record! with { Step = CriuMigrationStep.Restoring };
            var dir = _dir;
            Task.Run(() => record.Write(dir)).PipeTo(Self, success: () => RestoreRecorded.Instance, failure: e => new ReadFailed(
                $"recording the migration's step in {dir}: {e.GetBaseException().Message}"));
            return;
        }
        var (name, size) = _files[_file];
        var offset = _offset;
        var length = (int)Math.Min(_settings.FrameSize, size - offset);
        var images = _images;
        var id = _id;
        Task.Run(() => new PieceRead(new CriuImagePiece(id, name, offset, WholeProcessImageFiles.Read(images, name, offset, length), offset + length == size)))
            .PipeTo(Self, failure: e => new ReadFailed($"reading {name} of the dump at offset {offset}: {e.GetBaseException().Message}"));
    }

    private void Stored(CriuPieceStored stored)
    {
        var (name, size) = _files[_file];
        if (stored.File != name || stored.End <= _offset) return;
        Timers.Cancel("step");
        _bytesSent += stored.End - _offset;
        _offset = stored.End;
        if (_offset >= size)
        {
            _file++;
            _offset = 0;
        }
        Progress("copy");
        ReadNext();
    }

    // ---- the target's restore ----------------------------------------------------------------------------------------

    private void Restoring()
    {
        Receive<CriuTargetRestored>(r =>
        {
            CrashPoints.Hit("criu-migration-target-restored");
            Completed(r.Pid);
        });
        Receive<TargetFailed>(f => Fail(f.Step, f.Node, f.Reason));
        Receive<CriuPieceStored>(_ => { });
        Receive<StepTimedOut>(t => Unsure($"node {_targetName} did not answer within {t.After.TotalSeconds:F0} s of its restore"));
        Receive<Terminated>(_ => Unsure($"node {_targetName} went away during its restore"));
    }

    /// <summary>The target may or may not have restored the process: it is asked; only its "nothing here" lets this node restore.</summary>
    private void Unsure(string reason, Member? restarted = null)
    {
        if (restarted is not null)
            Context.ActorSelection(new RootActorPath(restarted.Address) / "user" / MigrationsActor.Name).Tell(new CriuAbortTarget(_id, Pid));
        else _target?.Tell(new CriuAbortTarget(_id, Pid));
        Timers.StartSingleTimer("step", new StepTimedOut(_settings.RequestTimeout), _settings.RequestTimeout);
        Become(() =>
        {
            Receive<CriuTargetRestored>(r => Completed(r.Pid));
            Receive<CriuTargetAborted>(a =>
            {
                if (a.Restored) Completed(a.Pid);
                else StartRollBack(new RollBack("restore", a.Reason ?? reason));
            });
            Receive<TargetFailed>(f => StartRollBack(new RollBack(f.Step, f.Reason)));
            Receive<Terminated>(_ => { });
            Receive<StepTimedOut>(_ => Finish(new ProcessMigrationFailed(_id, Pid, _targetName, "restore", reason, false,
                $"node {_targetName} did not say whether pid {Pid} runs there, so it was not restored here (it must never run twice); " +
                $"its dump stays in {_images}: once pid {Pid} is known not to run on {_targetName}, `gpuckpt restore --criu --images {_images}` " +
                $"on {_self} brings it back")));
        });
    }

    private void Completed(uint targetPid)
    {
        Timers.Cancel("step");
        var seconds = _clock.Elapsed.TotalSeconds;
        var summary = new MigrationSummary(_id, Pid, _self, _targetName, targetPid, _bytesTotal, _bytesSent, 0, 0, seconds, _transferSeconds,
            seconds - _dumpStartedAt, new Dictionary<string, string>());
        var dir = _dir;
        Task.Run(() => Directory.Delete(dir, recursive: true)).PipeTo(Self, success: () => new Ended(new MigrationCompleted(summary)),
            failure: _ => new Ended(new MigrationCompleted(summary)));
        Become(() => Receive<Ended>(e => Finish(e.Outcome)));
    }

    // ---- roll back: the process runs here again ----------------------------------------------------------------------

    /// <summary>Fails after the dump: the target removes its copy (it says so, or never restored), then the local dump is restored here.</summary>
    private void Fail(string step, string node, string reason)
    {
        Timers.Cancel("step");
        _target?.Tell(new CriuAbortTarget(_id, Pid));
        Timers.StartSingleTimer("step", new StepTimedOut(_settings.RequestTimeout), _settings.RequestTimeout);
        // Before the restore was asked for, the target cannot have restored: its answer only says its copy is gone.
        Become(() =>
        {
            Receive<CriuTargetAborted>(_ => StartRollBack(new RollBack(step, reason, node)));
            Receive<StepTimedOut>(_ => StartRollBack(new RollBack(step, reason, node)));
            Receive<Terminated>(_ => StartRollBack(new RollBack(step, reason, node)));
            Receive<TargetFailed>(_ => { });
            Receive<CriuPieceStored>(_ => { });
            Receive<PieceRead>(_ => { });
            Receive<ReadFailed>(_ => { });
        });
    }

    private void StartRollBack(RollBack rollBack)
    {
        Timers.Cancel("step");
        Progress("roll back");
        var command = _settings.SelfCommand!;
        var images = _images;
        var dir = _dir;
        var engineDir = _settings.CriuEngineDir;
        var limit = _settings.RestoreTimeout;
        var pidFree = _settings.PidFreeTimeout;
        var pid = Pid;
        var kernel = _kernel;
        Task.Run(async () =>
        {
            if (!await WaitPidFree(pid, pidFree).ConfigureAwait(false))
                return new RolledBack(false, $"pid {pid} was still taken after {pidFree.TotalSeconds:F0} s (a zombie its parent did not reap?)");
            string[] args = ["restore", "--criu", "--images", images, "--state-dir", engineDir, "--json"];
            var result = kernel is null
                ? await GpuckptChild.RunAsync(command, args, limit).ConfigureAwait(false)
                : await kernel.RestoreAsync([.. args, "--shell-job"], limit).ConfigureAwait(false);
            if (result.ExitCode != 0) return new RolledBack(false, result.Reason);
            Directory.Delete(dir, recursive: true);
            return new RolledBack(true, "");
        }).PipeTo(Self, failure: e => new RolledBack(false, e.GetBaseException().Message));
        Become(() =>
        {
            Receive<RolledBack>(r => Finish(new ProcessMigrationFailed(_id, Pid, rollBack.Node ?? _targetName, rollBack.Step, rollBack.Reason, r.Ok, r.Ok
                ? $"pid {Pid} runs again on {_self}, restored from its dump there; {_targetName} kept nothing"
                : $"restoring pid {Pid} on {_self} failed too ({r.Reason}); {_targetName} kept nothing and the dump stays in {_images}: " +
                  $"`gpuckpt restore --criu --images {_images}` on {_self} brings it back")));
            Receive<CriuTargetAborted>(_ => { });
            Receive<TargetFailed>(_ => { });
            Receive<Terminated>(_ => { });
            Receive<StepTimedOut>(_ => { });
        });
    }

    /// <summary>CRIU restores a process under its own pid: the dumped one's must have been reaped.</summary>
    internal static async Task<bool> WaitPidFree(uint pid, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (ProcessIdentity.Taken(pid))
        {
            if (clock.Elapsed > limit) return false;
            await tick.WaitForNextTickAsync().ConfigureAwait(false);
        }
        return true;
    }

    private void Progress(string step) => _replyTo.Tell(new MigrationProgress(_id, step, _bytesSent, _bytesTotal, 0));

    private void Finish(IMigrationMessage outcome)
    {
        if (_resumed)
            // Nobody waits on a migration a restart continued: the node's log is where its end is told.
            Context.GetLogger().Warning("migration {0}, continued after this node's restart: {1}", _id, outcome switch
            {
                MigrationCompleted c => $"pid {Pid} runs on node {_targetName} as pid {c.Summary.TargetPid}",
                ProcessMigrationFailed f => $"failed at {f.Step} on node {f.Node}: {f.Reason}; {f.Outcome}",
                _ => outcome.ToString(),
            });
        _replyTo.Tell(outcome);
        Context.Stop(Self);
    }

    private sealed record SourceChecked(ProcessIdentity Identity) : INoSerializationVerificationNeeded;

    private sealed record Refused(string Reason) : INoSerializationVerificationNeeded;

    private sealed record StepTimedOut(TimeSpan After) : INoSerializationVerificationNeeded;

    private sealed record Dumped(IReadOnlyList<(string Name, long Size)> Files, CriuMigrationRecord? Record = null) : INoSerializationVerificationNeeded;

    private sealed record Untouched(CriuMigrationRecord Record) : INoSerializationVerificationNeeded;

    private sealed record Lost(CriuMigrationRecord? Record, string Reason) : INoSerializationVerificationNeeded;

    private sealed class Forgotten : INoSerializationVerificationNeeded
    {
        public static readonly Forgotten Instance = new();
        private Forgotten() { }
    }

    private sealed class TargetLookup : INoSerializationVerificationNeeded
    {
        public static readonly TargetLookup Instance = new();
        private TargetLookup() { }
    }

    private sealed class RestoreRecorded : INoSerializationVerificationNeeded
    {
        public static readonly RestoreRecorded Instance = new();
        private RestoreRecorded() { }
    }

    private sealed record DumpFailed(string Reason) : INoSerializationVerificationNeeded;

    private sealed record PieceRead(CriuImagePiece Piece) : INoSerializationVerificationNeeded;

    private sealed record ReadFailed(string Reason) : INoSerializationVerificationNeeded;

    private sealed record RollBack(string Step, string Reason, string? Node = null) : INoSerializationVerificationNeeded;

    private sealed record RolledBack(bool Ok, string Reason) : INoSerializationVerificationNeeded;

    private sealed record Ended(IMigrationMessage Outcome) : INoSerializationVerificationNeeded;
}
