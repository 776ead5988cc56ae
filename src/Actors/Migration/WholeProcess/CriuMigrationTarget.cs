using System.Text.Json;
using Akka.Actor;
using Gpuckpt.Engine.Bridge;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>
/// The target side of a whole-process migration: says whether it can restore the process (CRIU here, its pid free here
/// or held by the very process being moved, on one machine), writes the image's files as they come, verifies
/// process.json over exactly what arrived, waits for the pid to be released and runs <c>restore --criu</c>. What it
/// got is removed in every case once it has answered; it stays a while after its answer to tell a source that did not
/// hear it whether the process runs here.
/// </summary>
public sealed class CriuMigrationTarget : ReceiveActor
{
    private readonly string _id;
    private readonly string _self;
    private readonly MigrationSettings _settings;
    private readonly string _dir;
    private ProcessIdentity? _source;
    private string _from = "?";
    private IActorRef _coordinator = ActorRefs.Nobody;
    private IActorRef? _abortAsked;
    private bool _restoring;
    private uint _restoredPid;
    private string? _failure;

    public CriuMigrationTarget(string migrationId, string selfName, MigrationSettings settings)
    {
        _id = migrationId;
        _self = selfName;
        _settings = settings;
        _dir = settings.CriuIncomingDir(migrationId);
        Receive<CriuTargetCheck>(Check);
    }

    public static Props Props(string migrationId, string selfName, MigrationSettings settings) =>
        Akka.Actor.Props.Create(() => new CriuMigrationTarget(migrationId, selfName, settings));

    private void Check(CriuTargetCheck check)
    {
        _source = check.Source;
        _from = check.From;
        var coordinator = Sender;
        var settings = _settings;
        var self = _self;
        var dir = _dir;
        Task.Run(() =>
        {
            if (settings.SelfCommand is null)
                return (object)new TargetFailed(check.MigrationId, self, "prepare target", $"node {self} runs inside another program and cannot run gpuckpt's CRIU commands");
            CriuInstall criu;
            try
            {
                criu = CriuInstall.Require();
            }
            catch (InvalidOperationException e)
            {
                return new TargetFailed(check.MigrationId, self, "prepare target", $"node {self} cannot restore a whole process: {e.Message}");
            }
            if (check.Source.TakenOn(self) is { } taken) return new TargetFailed(check.MigrationId, self, "prepare target", taken);
            if (check.UnderKernel && settings.Kernel is null)
                return new TargetFailed(check.MigrationId, self, "prepare target", $"node {self} hosts no emulated kernel, and pid {check.Source.Pid} " +
                    $"is a GPU process under node {check.From}'s: start node {self} with --emulated-kernel");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            return new CriuTargetReady(check.MigrationId, criu.Version.ToString());
        }).PipeTo(Self, coordinator, failure: e => new TargetFailed(check.MigrationId, self, "prepare target", e.GetBaseException().Message));
        Become(Preparing);
    }

    private void Preparing()
    {
        Receive<CriuTargetReady>(r =>
        {
            Sender.Tell(r);
            SetReceiveTimeout(_settings.RestoreTimeout);
            Become(Receiving);
        });
        Receive<TargetFailed>(f =>
        {
            Sender.Tell(f);
            Context.Stop(Self);
        });
    }

    // ---- the image's files -------------------------------------------------------------------------------------------

    private void Receiving()
    {
        Receive<CriuImagePiece>(piece =>
        {
            var coordinator = Sender;
            var dir = _dir;
            Task.Run(() =>
            {
                WholeProcessImageFiles.Write(dir, piece.File, piece.Offset, piece.Data, piece.Last);
                return (object)new CriuPieceStored(piece.MigrationId, piece.File, piece.Offset + piece.Data.Length);
            }).PipeTo(Self, coordinator, failure: e => new WriteFailed($"{piece.File} at offset {piece.Offset}: {e.GetBaseException().Message}"));
        });
        Receive<CriuPieceStored>(s => Sender.Tell(s));
        // The source was restarted after its dump: it sends the image again from its first byte.
        Receive<CriuTargetCheck>(Check);
        Receive<WriteFailed>(f => Discard(Sender, new TargetFailed(_id, _self, "transfer", f.Reason)));
        Receive<CriuRestoreTarget>(Restore);
        Receive<CriuAbortTarget>(_ => Discard(Sender, new CriuTargetAborted(_id, false, 0, null)));
        // The source went silent: nothing of its process is restored here.
        Receive<ReceiveTimeout>(_ => Discard(ActorRefs.Nobody, null));
    }

    /// <summary>Removes what arrived, answers <paramref name="answer"/> and stops.</summary>
    private void Discard(IActorRef to, object? answer)
    {
        SetReceiveTimeout(null);
        var dir = _dir;
        Task.Run(() =>
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }).PipeTo(Self, success: () => Discarded.Instance, failure: _ => Discarded.Instance);
        Become(() => Receive<Discarded>(_ =>
        {
            if (answer is not null) to.Tell(answer);
            Context.Stop(Self);
        }));
    }

    // ---- verify and restore ------------------------------------------------------------------------------------------

    private void Restore(CriuRestoreTarget request)
    {
        SetReceiveTimeout(null);
        _restoring = true;
        var coordinator = _coordinator = Sender;
        var source = _source!;
        var dir = _dir;
        var self = _self;
        var settings = _settings;
        Task.Run(async () =>
        {
            try
            {
                return await RestoreAsync(request, source, dir, self, settings).ConfigureAwait(false);
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }).PipeTo(Self, coordinator, failure: e => new TargetFailed(_id, self, "restore", e.GetBaseException().Message));
        Become(Restoring);
    }

    private static async Task<object> RestoreAsync(CriuRestoreTarget request, ProcessIdentity source, string dir, string self, MigrationSettings settings)
    {
        var got = WholeProcessImageFiles.List(dir);
        if (got.Count != request.Files || got.Sum(f => f.Size) != request.Bytes)
            return new TargetFailed(request.MigrationId, self, "verify",
                $"{got.Count} files of {got.Sum(f => f.Size)} bytes arrived, the source sent {request.Files} of {request.Bytes}");
        var verified = ProcessManifest.Verify(dir);
        if (!verified.Ok) return new TargetFailed(request.MigrationId, self, "verify", $"the image that arrived does not verify: {verified.Describe()}");
        var manifest = ProcessManifest.Load(dir);
        if (manifest.Pid != source.Pid)
            return new TargetFailed(request.MigrationId, self, "verify", $"the image that arrived is of pid {manifest.Pid}, not of pid {source.Pid}");
        if (source.TakenOn(self) is { } taken) return new TargetFailed(request.MigrationId, self, "restore", taken);
        if (!await CriuMigrationSource.WaitPidFree(source.Pid, settings.PidFreeTimeout).ConfigureAwait(false))
            return new TargetFailed(request.MigrationId, self, "restore",
                $"pid {source.Pid} was still taken on node {self} after {settings.PidFreeTimeout.TotalSeconds:F0} s (a zombie its parent did not reap?)");
        List<string> args = ["restore", "--criu", "--images", dir, "--state-dir", settings.CriuEngineDir, "--json"];
        if (manifest.GpuImage is not null)
        {
            // Node keys are HMAC secrets no node shares: what verified after the CA-authenticated transfer is signed with this node's key.
            var key = Path.Combine(settings.CriuEngineDir, "image.key");
            Engine.Trust.PrivateDirectory.Create(settings.CriuEngineDir);
            ProcessImageSigning.SignAgain(dir, ImageKey.LoadOrCreate(key));
            args.AddRange(["--trust-key", key]);
        }
        var kernel = manifest.GpuImage is not null ? settings.Kernel : null;
        var result = kernel is null
            ? await GpuckptChild.RunAsync(settings.SelfCommand!, args, settings.RestoreTimeout).ConfigureAwait(false)
            // The kernel's restored tasks share its launcher's session.
            : await kernel.RestoreAsync([.. args, "--shell-job"], settings.RestoreTimeout).ConfigureAwait(false);
        if (result.ExitCode == 0) return new CriuTargetRestored(request.MigrationId, RestoredPid(result.Stdout));
        // The image goes; CRIU's log of the failed restore stays where the reason points.
        var log = Path.Combine(dir, "criu-restore.log");
        var kept = settings.CriuRestoreLog(request.MigrationId);
        if (!File.Exists(log)) return new TargetFailed(request.MigrationId, self, "restore", result.Reason);
        Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
        File.Move(log, kept, overwrite: true);
        return new TargetFailed(request.MigrationId, self, "restore", result.Reason.Replace(log, kept, StringComparison.Ordinal));
    }

    private void Restoring()
    {
        // The node's list of arrived processes holds it before the source hears it: a restarted node still knows.
        Receive<CriuTargetRestored>(r =>
        {
            _restoredPid = r.Pid;
            Context.Parent.Tell(new ProcessArrived(_id, r.Pid, _from));
            Become(() =>
            {
                Receive<ArrivalRecorded>(_ => Answered(r));
                Receive<CriuAbortTarget>(_ => _abortAsked = Sender);
            });
        });
        Receive<TargetFailed>(f =>
        {
            _failure = f.Reason;
            Answered(f);
        });
        // Asked while the restore runs: answered when it has ended.
        Receive<CriuAbortTarget>(_ => _abortAsked = Sender);
    }

    private void Answered(object answer)
    {
        _restoring = false;
        _coordinator.Tell(answer);
        _abortAsked?.Tell(Last());
        SetReceiveTimeout(_settings.RequestTimeout + _settings.RequestTimeout);
        Become(() =>
        {
            Receive<CriuAbortTarget>(_ => Sender.Tell(Last()));
            Receive<ReceiveTimeout>(_ => Context.Stop(Self));
        });
    }

    private CriuTargetAborted Last() => new(_id, _restoredPid != 0, _restoredPid, _failure);

    protected override void PostStop()
    {
        // A target stopped before it restored anything leaves nothing behind.
        if (!_restoring && _restoredPid == 0 && Directory.Exists(_dir))
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The pid `restore --criu --json` printed.</summary>
    private static uint RestoredPid(string stdout)
    {
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidDataException($"restore --criu printed no result: {stdout.Trim()}");
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.GetProperty("pid").GetUInt32();
    }

    private sealed record WriteFailed(string Reason) : INoSerializationVerificationNeeded;

    private sealed class Discarded : INoSerializationVerificationNeeded
    {
        public static readonly Discarded Instance = new();
        private Discarded() { }
    }
}
