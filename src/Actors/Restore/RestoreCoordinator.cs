using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Restore;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Actors.Restore;

/// <summary>
/// Runs one restore in stages: verify the whole image (nothing touches a device before it is proven whole) → map its
/// GPUs onto local ones → create the process → KFD RESTORE → render-node BOs in passes (imports once their exporters
/// exist) → contents written back in parallel, checksums checked as they stream → RESUME once. A failure rolls back
/// what was created. Journalled: after a crash the job discards a half-built process and builds it again, or, when
/// RESUME was already intended, makes sure it happened exactly once.
/// </summary>
public sealed class RestoreCoordinator : JobActor
{
    private readonly string _jobId;
    private readonly RestoreRequest? _request;
    private readonly IGpuDriver _driver;
    private readonly ChunkPool _pool;
    private readonly IActorRef _replyTo;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<IDisposable> _sources = [];
    private RestoreState _state = new();
    private RestorePlan? _plan;
    private RestoreSession? _session;
    private DeviceStateRestored? _restored;
    private Dictionary<string, IReadOnlyList<CopyChunk>> _remaining = new();
    private const int SnapshotEvery = 1000;

    /// <param name="request">The job to start, or null to continue the journalled job <paramref name="jobId"/>.</param>
    public RestoreCoordinator(string jobId, RestoreRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo)
        : base(settings)
    {
        _jobId = jobId;
        _request = request;
        _driver = driver;
        _pool = pool;
        _replyTo = replyTo;
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is RestoreState state) _state = state;
        });
        Recover<IRestoreEvent>(e => _state.Apply(e));
        Recover<RecoveryCompleted>(_ => Self.Tell(Continue.Instance));
        Waiting();
    }

    public override string PersistenceId => $"restore-{_jobId}";

    public static Props Props(string jobId, RestoreRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new RestoreCoordinator(jobId, request, driver, settings, pool, replyTo));

    private string ImagesDir => _state.Started?.Request.ImagesDir ?? _request?.ImagesDir ?? "";

    protected override void PostStop()
    {
        base.PostStop();
        foreach (var source in _sources) source.Dispose();
        _session?.Dispose();
    }

    private void Waiting()
    {
        Command<Continue>(_ => Next());
        CommandSnapshots();
    }

    private void Next()
    {
        if (_state.Finished is { } outcome)
        {
            Reply(outcome);
            return;
        }
        if (_state.Started is null)
        {
            if (_request is null)
            {
                Reply(new RestoreJobUnknown(_jobId));
                return;
            }
            Persist(new RestoreStarted(_jobId, _request, _driver.Name), e =>
            {
                _state.Apply(e);
                Next();
            });
            return;
        }
        if (_state.ResumeIntended is { } intended)
        {
            if (_state.Resumed) Finish(new RestoreCompleted(intended.Summary with { Seconds = _clock.Elapsed.TotalSeconds }));
            else Resume(intended.Pid);
            return;
        }
        if (_state.Target is { } target && _state.DeviceState is { } done && done.Pid == target)
        {
            // Only contents were left: reattach to the process and write the chunks not yet journalled.
            Verify(done);
            return;
        }
        if (_state.Target is { } stale)
        {
            // A process half built by an engine that died: its dmabuf fds died with it, so it is built again.
            Discard(stale);
            return;
        }
        Verify();
    }

    private void Verify(DeviceStateDone? reattach = null)
    {
        Become(() => Verifying(reattach));
        var dir = ImagesDir;
        var driver = _driver;
        RunStep("verify", () => new Planned(RestorePlan.Prepare(dir, driver.Topology())));
    }

    private void Verifying(DeviceStateDone? reattach)
    {
        Command<Planned>(planned =>
        {
            _plan = planned.Plan;
            CrashPoints.Hit("planned");
            if (reattach is not null)
            {
                Become(Reattaching);
                var d = _driver;
                var p = planned.Plan;
                var size = Settings.ChunkSize;
                RunStep("reattach", () =>
                {
                    var session = RestoreSession.Reattach(d, p.Image, p.Map, reattach.Pid, reattach.RestoredOffsets);
                    return new Reattached(session, session.ContentsPlan(size));
                });
                return;
            }
            Become(CreatingTarget);
            var driver = _driver;
            var plan = planned.Plan;
            RunStep("create process", () => new TargetReady(RestoreSession.Begin(driver, plan.Image, plan.Map)));
        });
        Command<StepFailed>(f => Finish(new RestoreFailed(ImagesDir, Describe(f))));
        CommandSnapshots();
    }

    private void CreatingTarget()
    {
        Command<TargetReady>(ready =>
        {
            _session = ready.Session;
            Persist(new TargetCreated(ready.Session.Pid), e =>
            {
                _state.Apply(e);
                CrashPoints.Hit("target-created");
                Become(RestoringDeviceState);
                var session = ready.Session;
                var plan = _plan!;
                var chunkSize = Settings.ChunkSize;
                RunStep("restore device state", () =>
                {
                    session.RestoreKfd();
                    CrashPoints.Hit("kfd-restored");
                    var passes = RenderRestorePasses.Run(plan.Image.RenderNodes, plan.Image.Imports, plan.Image.Kfd, session);
                    return new DeviceStateRestored(passes, session.ContentsPlan(chunkSize));
                });
            });
        });
        Command<StepFailed>(f => Finish(new RestoreFailed(ImagesDir, Describe(f))));
        CommandSnapshots();
    }

    private void RestoringDeviceState()
    {
        Command<DeviceStateRestored>(restored =>
        {
            CrashPoints.Hit("render-restored");
            Persist(new DeviceStateDone(_session!.Pid, _session.RestoredOffsets, restored.Passes!.Count), e =>
            {
                _state.Apply(e);
                WriteContents(restored);
            });
        });
        Command<StepFailed>(f => RollBack(Describe(f)));
        CommandSnapshots();
    }

    private void Reattaching()
    {
        Command<Reattached>(r =>
        {
            _session = r.Session;
            WriteContents(new DeviceStateRestored(null, r.Contents));
        });
        // The half-restored process cannot be reattached (gone, or its BOs are): build it again.
        Command<StepFailed>(_ => Discard(_state.Target!.Value));
        CommandSnapshots();
    }

    private void WriteContents(DeviceStateRestored restored)
    {
        _restored = restored;
        Become(WritingContents);
        var driver = _driver;
        var pool = _pool;
        var reader = _plan!.Image.Reader;
        try
        {
            _remaining = restored.Contents.ToDictionary(d => d.Device, d => (IReadOnlyList<CopyChunk>)d.Chunks
                .Where(c => !_state.Written.Contains($"{d.Device}|{c.FileIndex}|{c.FileOffset}")).ToList());
            StartCopies(restored.Contents.Select(device =>
            {
                var bos = device.Bos;
                var chunks = _remaining[device.Device];
                var table = new BoMappingTable(chunks, i => driver.MapBo(bos[i].Minor, bos[i].MmapOffset, bos[i].Size, writable: true));
                var sources = device.Files.Select(f =>
                {
                    var file = reader.OpenPages(f.FileName);
                    _sources.Add(file);
                    return (IChunkSource)file;
                }).ToArray();
                return (device, chunks, table, (Func<CopyChunk, CancellationToken, Task<ulong>>)((chunk, ct) => ChunkCopier.RestoreAsync(chunk, table, sources, pool, ct)));
            }).ToList());
        }
        catch (Exception e)
        {
            RollBack($"contents: {e.Message}");
            return;
        }
        if (!CopiesRunning) ContentsDone();
    }

    private void WritingContents()
    {
        CommandCopies(landed =>
        {
            var chunk = _remaining[landed.Device][landed.ChunkIndex];
            CrashPoints.Hit("restore-chunk");
            PersistAsync(new ContentChunkWritten(landed.Device, chunk.FileIndex, chunk.FileOffset), e =>
            {
                _state.Apply(e);
                if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_state.Copy());
            });
        }, failure =>
        {
            if (failure is not null) RollBack($"contents: {failure}");
            else ContentsDone();
        });
        CommandSnapshots();
    }

    private void ContentsDone()
    {
        var image = _plan!.Image;
        var contents = _restored!.Contents;
        var summary = new RestoreSummary(
            _jobId,
            _session!.Pid,
            ImagesDir,
            contents.Sum(d => d.Bytes),
            image.Kfd.BoEntries.Count + image.RenderNodes.Sum(n => n.BoEntries.Count),
            contents.Count,
            _state.DeviceState?.RenderPasses ?? 0,
            _clock.Elapsed.TotalSeconds,
            _plan.Map.ByUserGpuId.ToDictionary(kv => $"0x{kv.Key:x}", kv => $"0x{kv.Value.GpuId:x}"));
        Persist(new ResumeIntended(summary.Pid, summary), e =>
        {
            _state.Apply(e);
            Resume(summary.Pid);
        });
    }

    /// <summary>RESUME, journalled before and after. EINVAL on a process that runs means a RESUME before the crash took effect.</summary>
    private void Resume(uint pid)
    {
        Become(Resuming);
        var session = _session;
        var driver = _driver;
        RunStep("resume", () =>
        {
            CrashPoints.Hit("resume-intended");
            using var kfd = session is null ? driver.OpenKfd(pid) : null;
            var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Resume, pid = pid };
            var rc = (session?.Kfd ?? kfd!).CriuOp(ref args, [], [], []);
            if (rc == Errno.EINVAL && session is null) return new ResumeDone(false);
            rc.Check("CRIU_OP(RESUME)", $"/dev/kfd of pid {pid}");
            session?.MarkResumed();
            return new ResumeDone(true);
        });
    }

    private void Resuming()
    {
        Command<ResumeDone>(_ =>
        {
            CrashPoints.Hit("resumed");
            Persist(new ProcessResumed(_state.ResumeIntended!.Pid), e =>
            {
                _state.Apply(e);
                Finish(new RestoreCompleted(_state.ResumeIntended!.Summary with { Seconds = _clock.Elapsed.TotalSeconds }));
            });
        });
        Command<StepFailed>(f =>
        {
            if (_session is not null) RollBack(Describe(f));
            else Finish(new RestoreFailed(ImagesDir, Describe(f)));
        });
        CommandSnapshots();
    }

    private void Discard(uint pid)
    {
        Become(Discarding);
        var driver = _driver;
        RunStep("discard half-restored process", () =>
        {
            try
            {
                driver.DiscardRestoreTarget(pid);
                return new Discarded(null);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
            {
                return new Discarded(null);
            }
        });
    }

    private void Discarding()
    {
        Command<Discarded>(_ => Persist(new TargetDiscarded(_state.Target!.Value), e =>
        {
            _state.Apply(e);
            Become(Waiting);
            Next();
        }));
        Command<StepFailed>(f => Finish(new RestoreFailed(ImagesDir, Describe(f))));
        CommandSnapshots();
    }

    private void RollBack(string reason)
    {
        Become(RollingBack);
        var session = _session!;
        Task.Run(() =>
        {
            var problems = session.Rollback();
            return new RolledBack(problems.Count == 0 ? reason : $"{reason} (rollback: {string.Join("; ", problems)})");
        }).PipeTo(Self, failure: e => new RolledBack($"{reason} (rollback failed: {e.Message})"));
    }

    private void RollingBack()
    {
        Command<RolledBack>(r => Persist(new TargetDiscarded(_session!.Pid), e =>
        {
            _state.Apply(e);
            Finish(new RestoreFailed(ImagesDir, r.Reason));
        }));
        CommandSnapshots();
    }

    private void Finish(IRestoreMessage outcome)
    {
        Become(Waiting);
        Persist(new RestoreFinished(outcome), e =>
        {
            _state.Apply(e);
            Reply(outcome);
        });
    }

    private static string Describe(StepFailed f) => $"{f.Step}: {f.Error.Message}";

    private void Reply(object message)
    {
        _replyTo.Tell(message);
        Context.Stop(Self);
    }
}
