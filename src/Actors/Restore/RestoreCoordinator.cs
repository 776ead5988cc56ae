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
/// Runs one restore in stages: verify the image's metadata (manifest, every file's length prefix, every protobuf
/// message and metadata checksum: nothing touches a device before that) → map its GPUs onto local ones → create the
/// process → KFD RESTORE → render-node BOs in passes, at the level of their BO actors (imports once their exporters
/// exist) → contents written back by device and BO actors, each content byte read once and its checksum checked as it
/// streams → RESUME once. A failure, a content checksum mismatch included, rolls back what was created, so no process
/// is ever resumed with a byte that failed its checksum. Journalled: after a crash the job discards a half-built
/// process and builds it again, or writes only the missing chunks, or, when RESUME was already intended, makes sure it
/// happened exactly once.
/// </summary>
public sealed partial class RestoreCoordinator : ContentJob<RestoreState, IRestoreEvent>
{
    private readonly RestoreRequest? _request;
    private readonly string? _checkedManifest;
    private readonly bool? _throughPageCache;
    private readonly IGpuDriver _driver;
    private readonly List<IDisposable> _sources = [];
    private RestorePlan? _plan;
    private RestoreSession? _session;
    private ContentsOpened? _contents;
    private ReleaseRestore? _release;
    private readonly JobControl _control;
    private string? _interrupt;

    /// <param name="request">The job to start, or null to continue the journalled job <paramref name="jobId"/>.</param>
    /// <param name="control">For a journalled job: continue it, abort it or forget it.</param>
    /// <param name="checkedManifest">The SHA-256 of the manifest of a copy its owner checked whole moments ago (<see cref="RestoreCheckedCopy"/>); a restarted job has none and verifies it again.</param>
    /// <param name="throughPageCache">How that copy was written (<see cref="RestoreCheckedCopy.ThroughPageCache"/>); a restarted job has none, and follows the engine's rule.</param>
    public RestoreCoordinator(string jobId, RestoreRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo,
        JobControl control = JobControl.Resume, string? checkedManifest = null, bool? throughPageCache = null)
        : base(jobId, settings, pool, replyTo)
    {
        Command<ReleaseRestore>(Release);
        _request = request;
        _checkedManifest = checkedManifest;
        _throughPageCache = throughPageCache;
        _driver = driver;
        _control = control;
        Command<PassDone>(OnPassDone);
        Command<InterruptJob>(OnInterrupt);
    }

    public override string PersistenceId => $"restore-{JobId}";

    public static Props Props(string jobId, RestoreRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo,
        JobControl control = JobControl.Resume, string? checkedManifest = null, bool? throughPageCache = null) =>
        Akka.Actor.Props.Create(() => new RestoreCoordinator(jobId, request, driver, settings, pool, replyTo, control, checkedManifest, throughPageCache));

    private string ImagesDir => State.Started?.Request.ImagesDir ?? _request?.ImagesDir ?? "";

    /// <summary>The chunk size the image was written with (so each chunk read is whole segments), within the pool's buffers.</summary>
    private int ChunkSize => _plan!.Image.Reader.Manifest.Extra.TryGetValue(Engine.Images.ManifestExtra.ChunkSize, out var v)
                             && int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var size) && size > 0 && size <= Settings.ChunkSize
        ? size
        : Settings.ChunkSize;

    protected override void PostStop()
    {
        base.PostStop();
        foreach (var source in _sources) source.Dispose();
        _session?.Dispose();
    }

    protected override object FailureOutcome(string reason) => new RestoreFailed(ImagesDir, reason);

    protected override void Next()
    {
        if (_request is not null && State.Started is { } earlier && earlier.Request.ImagesDir != _request.ImagesDir)
        {
            // A job id names one job: reused for another image, it is refused, never taken for that job.
            Reply(new RestoreFailed(_request.ImagesDir, $"job {JobId} already exists: a restore of {earlier.Request.ImagesDir} " +
                $"({(State.Finished is null ? "unfinished" : "finished")}); choose another --job"));
            return;
        }
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
        if (_control == JobControl.Forget)
        {
            Finish(new RestoreFailed(ImagesDir, $"forgotten: what it had restored from {ImagesDir} was left as it was", "forgotten"));
            return;
        }
        if (_control == JobControl.Abort && State.ResumeIntended is null)
        {
            // The partially restored process goes (the journalled one and any its tag marks), then the job ends aborted.
            if (State.Target is { } built) Discard(built);
            else if (State.TargetTag is not null) Discard(null);
            else Finish(new RestoreFailed(ImagesDir, "aborted by gpuckpt abort", "aborted"));
            return;
        }
        if (State.ResumeIntended is { } intended)
        {
            if (State.Resumed) Finish(new RestoreCompleted(intended.Summary with { Seconds = Clock.Elapsed.TotalSeconds, Phases = EndPhase() }));
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
        if (State.TargetTag is not null)
        {
            // The engine died between creating a process and journalling its pid: the tag finds it.
            Discard(null);
            return;
        }
        Verify();
    }

    private void Verify(DeviceStateDone? reattach = null)
    {
        var dir = ImagesDir;
        var driver = _driver;
        var trust = Settings.Trust;
        var checkedManifest = _checkedManifest;
        BeginPhase("verify");
        // A restore continued after a crash skips the contents journalled as written, so it cannot check them as it reads:
        // it verifies the whole image first.
        var wholeFirst = reattach is not null;
        RunStep("verify", _ => new Planned(RestorePlan.Prepare(dir, driver.Topology(), trust, checkedManifest, wholeFirst)), planned =>
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
        RunStep("reattach", _ => new Reattached(RestoreSession.Reattach(driver, plan.Image, plan.Map, done.Pid, done.RestoredOffsets)), r =>
        {
            _session = r.Session;
            OpenContents();
        },
        // The half-restored process cannot be reattached (gone, or its BOs are): build it again.
        _ => Discard(State.Target!.Value));
    }

    private void CreateTarget()
    {
        if (StopsHere()) return;
        var driver = _driver;
        var plan = _plan!;
        var tag = $"{PersistenceId}";
        BeginPhase("device state");
        Record(new TargetIntended(tag), () => RunStep("create process", _ =>
        {
            var session = RestoreSession.Begin(driver, plan.Image, plan.Map, tag);
            CrashPoints.Hit("target-made");
            return new TargetReady(session);
        }, ready =>
        {
            _session = ready.Session;
            Record(new TargetCreated(ready.Session.Pid), () =>
            {
                CrashPoints.Hit("target-created");
                RestoreKfd();
            });
        }, FailBeforeTarget));
    }

    private void RestoreKfd()
    {
        var session = _session!;
        RunStep("KFD restore", _ =>
        {
            session.RestoreKfd();
            return new KfdRestored();
        }, _ =>
        {
            CrashPoints.Hit("kfd-restored");
            StartPasses();
        }, f => RollBack(Describe(f)));
    }

    /// <summary>Plans the contents and opens the page files (a task: opening files blocks), then starts the copy.</summary>
    private void OpenContents()
    {
        if (StopsHere()) return;
        var session = _session!;
        var reader = _plan!.Image.Reader;
        // A live migration's target restores the copy it has just received through the page cache: read from there, not
        // from the disk, and left there (its pages may not be written back yet). Any other image is read from the disk,
        // through the page cache with the kernel's readahead and dropped from it as it is checked (or with O_DIRECT, when
        // direct-reads is on).
        var cached = _throughPageCache ?? Hold;
        reader.DirectIo = Settings.DirectReads && !cached;
        reader.DropBehind = !cached;
        var chunkSize = ChunkSize;
        var digests = _plan.PendingDigests.Count > 0;
        BeginPhase("contents");
        RunStep("open contents", _ =>
        {
            var contents = session.ContentsPlan(chunkSize);
            var sources = new List<Engine.Images.PageFileReader[]>();
            try
            {
                foreach (var device in contents) sources.Add([.. device.Files.Select(f => reader.OpenPages(f.FileName))]);
                if (digests) foreach (var file in sources.SelectMany(f => f)) file.RecordDigests();
            }
            catch
            {
                foreach (var file in sources.SelectMany(f => f)) file.Dispose();
                throw;
            }
            return new ContentsOpened(contents, sources);
        }, WriteContents, f => RollBack(Describe(f)));
    }

    private void WriteContents(ContentsOpened opened)
    {
        _contents = opened;
        _sources.AddRange(opened.Sources.SelectMany(s => s));
        var driver = _driver;
        var works = opened.Contents.Select((device, i) => new DeviceWork(
            device,
            [.. Enumerable.Range(0, device.Chunks.Count).Where(c => !State.Written.Contains(ContentChunkWritten.KeyOf(device.Device, device.Chunks[c])))],
            null,
            opened.Sources[i],
            bo => bo.Path == BoCopyPath.CopyEngine ? driver.CopyBo(bo.Minor, bo.Dmabuf, bo.MmapOffset, bo.Size, writable: true)
                : driver.MapBo(bo.Minor, bo.MmapOffset, bo.Size, writable: true),
            bos => driver.PrepareMaps([.. bos.Where(b => b.Path == BoCopyPath.Cpu).Select(b => b.Range)]),
            bos => driver.ForgetMaps([.. bos.Where(b => b.Path == BoCopyPath.Cpu).Select(b => b.Range)]))).ToList();
        StartContents(works, Landed, failure =>
        {
            if (failure is not null) RollBack($"contents: {failure}");
            else CheckContents();
        });
    }

    private void Landed(DeviceWork work, ChunkLanded landed)
    {
        var chunk = work.Plan.Chunks[landed.ChunkIndex];
        CrashPoints.Hit("restore-chunk");
        QueueProgress(new ContentChunkWritten(work.Plan.Device, chunk.FileIndex, chunk.FileOffset));
    }

    /// <summary>A signed image's page files against their signed digests, from the reads the contents made: before RESUME, never after.</summary>
    private void CheckContents()
    {
        var plan = _plan!;
        if (plan.PendingDigests.Count == 0)
        {
            ContentsDone();
            return;
        }
        var sources = _contents!.Sources.SelectMany(s => s).ToList();
        RunStep("check contents", _ =>
        {
            plan.CheckPendingDigests(sources);
            return new ContentsChecked();
        }, _ => ContentsDone(), f => RollBack(Describe(f)));
    }

    private void ContentsDone()
    {
        if (StopsHere()) return;
        var image = _plan!.Image;
        var contents = _contents!;
        var summary = new RestoreSummary(
            JobId,
            _session!.Pid,
            ImagesDir,
            contents.Contents.Sum(d => d.Bytes),
            image.Kfd.BoEntries.Count + image.RenderNodes.Sum(n => n.BoEntries.Count),
            contents.Contents.Count,
            State.DeviceState?.RenderPasses ?? 0,
            Clock.Elapsed.TotalSeconds,
            _plan.Map.ByUserGpuId.ToDictionary(kv => $"0x{kv.Key:x}", kv => $"0x{kv.Value.GpuId:x}"),
            contents.Sources.SelectMany(s => s).Sum(f => f.BytesRead - Engine.Images.LengthPrefix.Size),
            image.Reader.MetadataBytesRead);
        // A held restore tells its client how long each phase took so far.
        if (Hold) Record(new RestoreHoldReached(summary.Pid, summary with { Phases = EndPhase() }), Next);
        else Record(new ResumeIntended(summary.Pid, summary), () => Resume(summary.Pid));
    }

    /// <summary>
    /// A signal to the command this restore runs for (one served by a resident engine): the restore stops short of
    /// RESUME. A copy in flight stops at once; any other step is let finish (each is bounded), and the next one sees
    /// the interrupt. What was built is rolled back, so nothing half restored is left running or holding memory.
    /// </summary>
    private void OnInterrupt(InterruptJob interrupt)
    {
        if (_interrupt is not null || Hold || State.ResumeIntended is not null || State.Finished is not null) return;
        _interrupt = interrupt.Signal;
        AbortContents(Interrupted(interrupt.Signal));
    }

    /// <summary>The reason a restore interrupted by <paramref name="signal"/> ends with (after what its rollback met, if anything).</summary>
    public static string Interrupted(string signal) => $"interrupted by {signal} before RESUME";

    /// <summary>True when an interrupt came: the restore then ends here, rolling back what it built.</summary>
    private bool StopsHere()
    {
        if (_interrupt is null) return false;
        if (_session is not null) RollBack(Interrupted(_interrupt));
        else Finish(new RestoreFailed(ImagesDir, Interrupted(_interrupt)));
        return true;
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
        BeginPhase("resume");
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
            var done = new RestoreCompleted(State.ResumeIntended!.Summary with { Seconds = Clock.Elapsed.TotalSeconds, Phases = EndPhase() });
            Record([new ProcessResumed(State.ResumeIntended!.Pid), new RestoreFinished(done)], () => Reply(done));
        }, f =>
        {
            if (_session is not null) RollBack(Describe(f));
            else Finish(new RestoreFailed(ImagesDir, Describe(f)));
        });
    }

    /// <summary>Removes the half-built process: the one journalled, and any other this job's tag marks.</summary>
    private void Discard(uint? pid)
    {
        var driver = _driver;
        var tag = State.TargetTag;
        RunStep("discard half-restored process", _ =>
        {
            var doomed = (pid is { } p ? [p] : Array.Empty<uint>()).Concat(tag is null ? [] : driver.RestoreTargetsTagged(tag)).Distinct();
            foreach (var target in doomed)
            {
                try
                {
                    driver.DiscardRestoreTarget(target);
                }
                catch (DriverException e) when (e.ErrorNumber == Errno.ESRCH)
                {
                    // Already gone: nothing to discard.
                }
            }
            return new Discarded(null);
        }, _ => Record(new TargetDiscarded(pid ?? 0), Next), FailBeforeTarget);
    }

    private void RollBack(string reason)
    {
        var session = _session!;
        BeginPhase("roll back");
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
