using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Actors.Copy;
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
public sealed class RestoreCoordinator : PersistentJob<RestoreState, IRestoreEvent>
{
    private readonly RestoreRequest? _request;
    private readonly IGpuDriver _driver;
    private readonly ChunkPool _pool;
    private readonly List<IDisposable> _sources = [];
    private RestorePlan? _plan;
    private RestoreSession? _session;
    private ReleaseRestore? _release;
    private DeviceStateRestored? _restored;
    private Dictionary<string, IReadOnlyList<CopyChunk>> _remaining = new();

    /// <param name="request">The job to start, or null to continue the journalled job <paramref name="jobId"/>.</param>
    public RestoreCoordinator(string jobId, RestoreRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo)
        : base(jobId, settings, replyTo)
    {
        Command<ReleaseRestore>(Release);
        _request = request;
        _driver = driver;
        _pool = pool;
    }

    public override string PersistenceId => $"restore-{JobId}";

    public static Props Props(string jobId, RestoreRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new RestoreCoordinator(jobId, request, driver, settings, pool, replyTo));

    private string ImagesDir => State.Started?.Request.ImagesDir ?? _request?.ImagesDir ?? "";

    protected override void PostStop()
    {
        base.PostStop();
        foreach (var source in _sources) source.Dispose();
        _session?.Dispose();
    }

    protected override object FailureOutcome(string reason) => new RestoreFailed(ImagesDir, reason);

    protected override void Next()
    {
        if (State.Finished is { } outcome)
        {
            Reply(outcome);
            return;
        }
        if (State.Started is null)
        {
            if (_request is null) Reply(new RestoreJobUnknown(JobId));
            else Record(new RestoreStarted(JobId, _request, _driver.Name), Next);
            return;
        }
        if (State.ResumeIntended is { } intended)
        {
            if (State.Resumed) Finish(new RestoreCompleted(intended.Summary with { Seconds = Clock.Elapsed.TotalSeconds }));
            else Resume(intended.Pid);
            return;
        }
        if (State.Held is { } held)
        {
            // Held short of RESUME: (again, after a restart) tell the client and wait for its decision.
            ReplyTo.Tell(new RestoreHeld(held.Summary));
            if (_release is { } early) Release(early);
            return;
        }
        if (Hold && _request is null)
        {
            // A held restore's client decides from what it was told; one rebuilt after a crash it never saw is not built.
            if (State.Target is { } half) Discard(half);
            else Finish(new RestoreFailed(ImagesDir, "the engine restarted before this held restore reached its hold point; what it had built was discarded"));
            return;
        }
        if (State.Target is { } target && State.DeviceState is { } done && done.Pid == target)
        {
            // Only contents were left: reattach to the process and write the chunks not yet journalled.
            Verify(done);
            return;
        }
        if (State.Target is { } stale)
        {
            // A process half built by an engine that died: its dmabuf fds died with it, so it is built again.
            Discard(stale);
            return;
        }
        Verify();
    }

    private void Verify(DeviceStateDone? reattach = null)
    {
        var dir = ImagesDir;
        var driver = _driver;
        RunStep("verify", _ => new Planned(RestorePlan.Prepare(dir, driver.Topology())), planned =>
        {
            _plan = planned.Plan;
            CrashPoints.Hit("planned");
            if (reattach is not null) Reattach(reattach);
            else CreateTarget();
        }, FailBeforeTarget);
    }

    private void Reattach(DeviceStateDone done)
    {
        var driver = _driver;
        var plan = _plan!;
        var size = Settings.ChunkSize;
        RunStep("reattach", _ =>
        {
            var session = RestoreSession.Reattach(driver, plan.Image, plan.Map, done.Pid, done.RestoredOffsets);
            return new Reattached(session, session.ContentsPlan(size));
        }, r =>
        {
            _session = r.Session;
            WriteContents(new DeviceStateRestored(null, r.Contents));
        },
        // The half-restored process cannot be reattached (gone, or its BOs are): build it again.
        _ => Discard(State.Target!.Value));
    }

    private void CreateTarget()
    {
        var driver = _driver;
        var plan = _plan!;
        RunStep("create process", _ => new TargetReady(RestoreSession.Begin(driver, plan.Image, plan.Map)), ready =>
        {
            _session = ready.Session;
            Record(new TargetCreated(ready.Session.Pid), () =>
            {
                CrashPoints.Hit("target-created");
                RestoreDeviceState();
            });
        }, FailBeforeTarget);
    }

    private void RestoreDeviceState()
    {
        var session = _session!;
        var plan = _plan!;
        var chunkSize = Settings.ChunkSize;
        RunStep("restore device state", _ =>
        {
            session.RestoreKfd();
            CrashPoints.Hit("kfd-restored");
            var passes = RenderRestorePasses.Run(plan.Image.RenderNodes, plan.Image.Imports, plan.Image.Kfd, session);
            return new DeviceStateRestored(passes, session.ContentsPlan(chunkSize));
        }, restored =>
        {
            CrashPoints.Hit("render-restored");
            Record(new DeviceStateDone(_session!.Pid, _session.RestoredOffsets, restored.Passes!.Count), () => WriteContents(restored));
        }, f => RollBack(Describe(f)));
    }

    private void WriteContents(DeviceStateRestored restored)
    {
        _restored = restored;
        var driver = _driver;
        var pool = _pool;
        var reader = _plan!.Image.Reader;
        try
        {
            _remaining = restored.Contents.ToDictionary(d => d.Device, d => (IReadOnlyList<CopyChunk>)d.Chunks
                .Where(c => !State.Written.Contains($"{d.Device}|{c.FileIndex}|{c.FileOffset}")).ToList());
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
            }).ToList(), Landed, failure =>
            {
                if (failure is not null) RollBack($"contents: {failure}");
                else ContentsDone();
            });
        }
        catch (Exception e)
        {
            RollBack($"contents: {e.Message}");
        }
    }

    private void Landed(ChunkLanded landed)
    {
        var chunk = _remaining[landed.Device][landed.ChunkIndex];
        CrashPoints.Hit("restore-chunk");
        RecordProgress(new ContentChunkWritten(landed.Device, chunk.FileIndex, chunk.FileOffset));
    }

    private void ContentsDone()
    {
        var image = _plan!.Image;
        var contents = _restored!.Contents;
        var summary = new RestoreSummary(
            JobId,
            _session!.Pid,
            ImagesDir,
            contents.Sum(d => d.Bytes),
            image.Kfd.BoEntries.Count + image.RenderNodes.Sum(n => n.BoEntries.Count),
            contents.Count,
            State.DeviceState?.RenderPasses ?? 0,
            Clock.Elapsed.TotalSeconds,
            _plan.Map.ByUserGpuId.ToDictionary(kv => $"0x{kv.Key:x}", kv => $"0x{kv.Value.GpuId:x}"));
        if (Hold) Record(new RestoreHoldReached(summary.Pid, summary), Next);
        else Record(new ResumeIntended(summary.Pid, summary), () => Resume(summary.Pid));
    }

    private bool Hold => State.Started?.Request.HoldBeforeResume ?? _request?.HoldBeforeResume ?? false;

    /// <summary>The decision on a held restore: RESUME it, or discard the process. One that comes early waits for the hold.</summary>
    private void Release(ReleaseRestore release)
    {
        if (State.Held is not { } held || State.ResumeIntended is not null || State.Finished is not null || StepRunning)
        {
            _release = State.Finished is null ? release : null;
            return;
        }
        _release = null;
        if (release.Resume)
        {
            Record(new ResumeIntended(held.Pid, held.Summary), () => Resume(held.Pid));
            return;
        }
        var reason = $"discarded before RESUME: {release.Reason}";
        if (_session is not null)
        {
            RollBack(reason);
            return;
        }
        var driver = _driver;
        RunStep("discard held process", _ =>
        {
            try
            {
                driver.DiscardRestoreTarget(held.Pid);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
            {
                // Already gone: nothing of it is left.
            }
            return new Discarded(null);
        }, _ => Record(new TargetDiscarded(held.Pid), () => Finish(new RestoreFailed(ImagesDir, reason))),
        f => Finish(new RestoreFailed(ImagesDir, $"{reason} (and {Describe(f)})")));
    }

    /// <summary>RESUME, journalled before and after. EINVAL on a process that runs means a RESUME before the crash took effect.</summary>
    private void Resume(uint pid)
    {
        var session = _session;
        var driver = _driver;
        RunStep("resume", _ =>
        {
            CrashPoints.Hit("resume-intended");
            using var kfd = session is null ? driver.OpenKfd(pid) : null;
            var args = new KfdIoctlCriuArgs { op = (uint)KfdCriuOp.Resume, pid = pid };
            var rc = (session?.Kfd ?? kfd!).CriuOp(ref args, [], [], []);
            if (rc == Errno.EINVAL && session is null) return new ResumeDone(false);
            rc.Check("CRIU_OP(RESUME)", $"/dev/kfd of pid {pid}");
            session?.MarkResumed();
            return new ResumeDone(true);
        }, _ =>
        {
            CrashPoints.Hit("resumed");
            Record(new ProcessResumed(State.ResumeIntended!.Pid),
                () => Finish(new RestoreCompleted(State.ResumeIntended!.Summary with { Seconds = Clock.Elapsed.TotalSeconds })));
        }, f =>
        {
            if (_session is not null) RollBack(Describe(f));
            else Finish(new RestoreFailed(ImagesDir, Describe(f)));
        });
    }

    private void Discard(uint pid)
    {
        var driver = _driver;
        RunStep("discard half-restored process", _ =>
        {
            try
            {
                driver.DiscardRestoreTarget(pid);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
            {
                // Already gone: nothing to discard.
            }
            return new Discarded(null);
        }, _ => Record(new TargetDiscarded(pid), Next), FailBeforeTarget);
    }

    private void RollBack(string reason)
    {
        var session = _session!;
        RunStep("roll back", _ =>
        {
            var problems = session.Rollback();
            return new RolledBack(problems.Count == 0 ? reason : $"{reason} (rollback: {string.Join("; ", problems)})");
        }, r => Record(new TargetDiscarded(session.Pid), () => Finish(new RestoreFailed(ImagesDir, r.Reason))),
        f => Record(new TargetDiscarded(session.Pid), () => Finish(new RestoreFailed(ImagesDir, $"{reason} (rollback failed: {f.Error.Message})"))));
    }

    private void FailBeforeTarget(StepFailed f) => Finish(new RestoreFailed(ImagesDir, Describe(f)));

    private void Finish(IRestoreMessage outcome) => Record(new RestoreFinished(outcome), () => Reply(outcome));

    private static string Describe(StepFailed f) => $"{f.Step}: {f.Error.Message}";
}
