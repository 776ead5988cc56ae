using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// Owns one checkpoint of one process: PROCESS_INFO (pause) → CHECKPOINT and the render nodes → one device actor per
/// GPU and render node copying contents in parallel → commit the image → UNPAUSE when asked to leave it running.
/// Every step is journalled; a restarted engine continues the job where it stopped, adopting the chunks already in the
/// image instead of copying them again, and issues UNPAUSE exactly once. Any failure marks the image failed and
/// unpauses the process.
/// </summary>
public sealed partial class CheckpointSupervisor : ContentJob<CheckpointState, ICheckpointEvent>
{
    private readonly CheckpointRequest? _request;
    private readonly IGpuDriver _driver;
    private readonly Stopwatch _pauseClock = new();
    private IKfdFile? _kfd;
    private ImageWriter? _writer;
    private Captured? _captured;

    /// <summary>The migration's store of the chunks this round writes (<see cref="CapturedPieces"/>), or null.</summary>
    private CapturedPieces? _kept;
    private string? _aborted;
    private bool _holdsAnnounced;
    private object? _answer;
    private readonly JobControl _control;
    private readonly bool _live;
    // What the journal says of a live checkpoint (its events, not its snapshot type): live, and past its running rounds since a tick.
    private bool _journalledLive;
    // A job that packs its chunks: asked for, or (continued after a restart) journalled so.
    private readonly bool _pack;
    private bool _journalledPack;
    private ulong? _liveSince;
    private string? _interrupt;

    /// <param name="request">The job to start, or null to continue the journalled job <paramref name="jobId"/>.</param>
    /// <param name="control">For a journalled job: continue it, abort it or forget it.</param>
    /// <param name="live">A new job copies while the process runs (<see cref="LiveCheckpointRequest"/>).</param>
    /// <param name="pack">A new job packs its chunks with LZ4 where that pays (<see cref="PackedCheckpointRequest"/>).</param>
    public CheckpointSupervisor(string jobId, CheckpointRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo,
        JobControl control = JobControl.Resume, bool live = false, bool pack = false)
        : base(jobId, settings, pool, replyTo)
    {
        _request = request;
        _live = live;
        _pack = pack;
        _driver = driver;
        _control = control;
        Command<Claims.ClaimReleased>(_ => Reply(_answer!));
        Command<InterruptJob>(interrupt =>
        {
            if (_interrupt is not null || State.Committed is not null || State.Failing is not null || State.Finished is not null) return;
            _interrupt = interrupt.Signal;
            // A copy in flight stops at once; any other step is let finish (each is bounded), and Next sees the interrupt.
            AbortContents($"interrupted by {interrupt.Signal}");
            if (!StepRunning && State.Started is not null && _captured is null) Next();
            else if (_awaitingRound) Next();
        });
        Command<LiveRoundNext>(next =>
        {
            if (!_awaitingRound || State.Failing is not null || _interrupt is not null) return;
            _awaitingRound = false;
            if (next.Abandon is { } why) Fail(new StepFailed("live copy", new IOException(why)));
            else if (next.Final) Record(new LiveCopyEnded(_roundSince), Next);
            else LiveRound();
        });
    }

    public override string PersistenceId => $"checkpoint-{JobId}";

    public static Props Props(string jobId, CheckpointRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo,
        JobControl control = JobControl.Resume, bool live = false, bool pack = false) =>
        Akka.Actor.Props.Create(() => new CheckpointSupervisor(jobId, request, driver, settings, pool, replyTo, control, live, pack));

    private CheckpointStarted Started => State.Started!;
    private CheckpointRequest Request => Started.Request;

    protected override void PostStop()
    {
        base.PostStop();
        _captured?.Process.Dispose();
        _writer?.Dispose();
        _kfd?.Dispose();
    }

    protected override object FailureOutcome(string reason) => new CheckpointFailed(_request?.Pid ?? 0, reason, false);

    protected override void Next()
    {
        if (_request is not null && State.Started is { } earlier && !SameJob(earlier.Request, _request))
        {
            // A job id names one job: reused for another process or directory, it is refused, never taken for that job.
            Answer(_request.Pid, new CheckpointFailed(_request.Pid, $"job {JobId} already exists: a checkpoint of pid {earlier.Request.Pid} into {earlier.Request.ImagesDir} " +
                $"({(State.Finished is null ? "unfinished" : "finished")}); choose another --job", false));
            return;
        }
        // A resumed job holds its process's claim since it first started: its parent releases it when it answers.
        if (State.Started is { } started && !_holdsAnnounced)
        {
            _holdsAnnounced = true;
            Context.Parent.Tell(new Claims.JobHolds(JobId, Claims.ProcessClaim.KeyOf(started.Driver, started.Request.Pid)));
        }
        if (State.Finished is { } outcome)
        {
            Answer(Request.Pid, outcome);
            return;
        }
        if (State.Started is null)
        {
            if (_request is null) Reply(new JobUnknown(JobId));
            else
            {
                var begun = new CheckpointStarted(JobId, _request, _driver.Name, Settings.ChunkSize, Guid.NewGuid().ToString("N"));
                var events = new List<ICheckpointEvent> { begun };
                if (_live) events.Add(new LiveCopyStarted());
                if (_pack) events.Add(new PackedCopyStarted());
                Record(events, Next);
            }
            return;
        }
        if (_control == JobControl.Forget)
        {
            Finish(new CheckpointFailed(Request.Pid, $"forgotten: pid {Request.Pid} and the image in {Request.ImagesDir} were left as they were", false, "forgotten"));
            return;
        }
        if (_control == JobControl.Abort && State.Failing is null)
        {
            Record(new CheckpointFailing("aborted by gpuckpt abort"), Next);
            return;
        }
        if (_interrupt is not null && State.Failing is null && State.Committed is null)
        {
            Interrupted(_interrupt);
            return;
        }
        if (State.Failing is not null)
        {
            if (_aborted is null) AbortImage();
            else AbandonProcess();
            return;
        }
        if (_journalledLive && _liveSince is null && State.IntendsUnpause && State.Committed is null)
        {
            // A live checkpoint's running rounds begin once the pause that listed its BOs is undone.
            if (!State.Unpaused) Unpause(onFailure: error => Fail(new StepFailed("unpause", new IOException(error))));
            // A restarted engine lost the rounds' clocks: the last pause copies everything, as a checkpoint that is not live does.
            else if (_captured is null) Record(new LiveCopyEnded(0), Next);
            else LiveRound();
            return;
        }
        if (State.Committed is null)
        {
            // The kernel counts pauses: a process the journal knows paused is never paused a second time.
            if (State.Paused is { } paused) Pause(new KfdProcessInfo(paused.NumDevices, paused.NumBos, paused.NumObjects, paused.PrivDataSize));
            else if (State.IntendsPause) UndoUnknownPause();
            else CheckThenPause();
            return;
        }
        if (Request.LeaveRunning && !State.IntendsUnpause)
        {
            Record(new UnpauseIntended(), Next);
            return;
        }
        if (State.IntendsUnpause && !State.Unpaused)
        {
            Unpause(onFailure: error => Finish(new CheckpointFailed(Request.Pid, $"image committed, but UNPAUSE failed: {error}", false)));
            return;
        }
        _pauseClock.Stop();
        Finish(Completion()!);
    }

    /// <summary>Lets go of the process's claim, then answers: the client never sees the answer while the process is still claimed.</summary>
    private void Answer(uint pid, object outcome)
    {
        if (_answer is not null) return;
        _answer = outcome;
        var key = Claims.ProcessClaim.KeyOf(State.Started?.Driver ?? _driver.Name, pid);
        // A migration's checkpoint (it streams chunks) leaves the pause to the migration, which unpauses or ends the source.
        var leftPaused = outcome is CheckpointCompleted { Summary.LeftPaused: true } && !Request.ReportChunks;
        Context.ActorOf(leftPaused ? Claims.ProcessClaim.ReleasePaused(key, JobId, Self) : Claims.ProcessClaim.Release(key, JobId, Self), "claim-release");
    }

    private static bool SameJob(CheckpointRequest a, CheckpointRequest b) =>
        a.Pid == b.Pid && a.ImagesDir == b.ImagesDir && a.LeaveRunning == b.LeaveRunning && a.Parent == b.Parent;

    /// <summary>The summary of a committed checkpoint, from the journal and the clocks.</summary>
    private CheckpointCompleted? Completion() => State.Committed is not { } committed ? null : new CheckpointCompleted(new CheckpointSummary(
        JobId, Request.Pid, Request.ImagesDir, Started.ImageId, committed.Bytes, committed.Bos, committed.Devices,
        Clock.Elapsed.TotalSeconds, _pauseClock.Elapsed.TotalSeconds, !Request.LeaveRunning, RecoverySeconds, EndPhase(), committed.ReferencedBytes));

    /// <summary>
    /// Opens the image (new, or the one a killed engine left) and pauses the process with PROCESS_INFO, or, when the
    /// journal already holds what PROCESS_INFO answered (<paramref name="known"/>), takes the process up as it is: it is
    /// still paused, and a second PROCESS_INFO would count a second eviction that the one UNPAUSE never undoes.
    /// </summary>
    private void Pause(KfdProcessInfo? known)
    {
        var started = Started;
        var driver = _driver;
        var directIo = Settings.DirectIo;
        var pack = _pack || _journalledPack;
        var sign = Settings.Trust.Sign;
        // A live checkpoint's last pause goes on with the image and the KFD file its running rounds had open.
        var (openWriter, openKfd) = (_writer, _kfd);
        BeginPhase("pause");
        RunStep<object>("pause", _ =>
        {
            if (openWriter is not null && openKfd is not null) return new Paused(openKfd, known ?? KfdCheckpoint.ProcessInfo(openKfd), openWriter);
            var writer = CheckpointImage.Open(started, driver);
            if (writer is null) return new Committed(CheckpointImage.CommittedFromManifest(started));
            writer.DirectIo = directIo;
            writer.Pack = pack;
            writer.KeepDigests = sign;
            try
            {
                var kfd = driver.OpenKfd(started.Request.Pid);
                try
                {
                    return new Paused(kfd, known ?? KfdCheckpoint.ProcessInfo(kfd), writer);
                }
                catch
                {
                    kfd.Dispose();
                    throw;
                }
            }
            catch
            {
                writer.Dispose();
                throw;
            }
        }, result =>
        {
            if (result is Committed committed)
            {
                Record(committed.Event, Next);
                return;
            }
            var paused = (Paused)result;
            _kfd = paused.Kfd;
            _writer = paused.Writer;
            // A live checkpoint's last pause is the one its summary counts.
            if (_liveSince is not null) _pauseClock.Restart();
            else _pauseClock.Start();
            var info = paused.Info;
            if (known is not null)
            {
                if (_interrupt is not null) Next();
                else Capture(info);
                return;
            }
            CrashPoints.Hit("pause-issued");
            // Journalled before the capture: a restarted engine must know the pause took effect, and with what counts.
            Record(new ProcessPaused(info.NumDevices, info.NumBos, info.NumObjects, info.PrivDataSize), () =>
            {
                CrashPoints.Hit("paused");
                if (_interrupt is not null) Next();
                else Capture(info);
            });
        }, Fail);
    }

    /// <summary>A kernel lacking an interface the job needs refuses it before the pause is even intended: nothing to undo.</summary>
    private void CheckThenPause()
    {
        var pid = Request.Pid;
        var driver = _driver;
        BeginPhase("pause");
        RunStep("check", _ =>
        {
            driver.CheckCheckpointable(pid);
            return true;
        }, _ =>
        {
            if (_interrupt is not null) Next();
            else Record(new PauseIntended(), () => Pause(known: null));
        }, Fail);
    }

    /// <summary>
    /// A killed engine intended PROCESS_INFO but journalled no answer: it may have paused the process or not. UNPAUSE
    /// settles it (EINVAL: it was not paused) before a fresh PROCESS_INFO; nothing was captured under that pause.
    /// </summary>
    private void UndoUnknownPause()
    {
        var pid = Request.Pid;
        var driver = _driver;
        BeginPhase("pause");
        RunStep("pause", _ =>
        {
            using var kfd = driver.OpenKfd(pid);
            try
            {
                KfdCheckpoint.Unpause(kfd);
                return new UnknownPauseUndone(true);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EINVAL)
            {
                return new UnknownPauseUndone(false);
            }
        }, undone => Record(undone, Next), Fail);
    }

    private void Capture(KfdProcessInfo info)
    {
        var kfd = _kfd!;
        var writer = _writer!;
        var driver = _driver;
        var chunkSize = Started.ChunkSize;
        var saved = State.Chunks;
        var pid = Request.Pid;
        // A job a restart took up is finished as a stop-and-copy checkpoint: nobody waits on its rounds.
        var firstRound = _journalledLive && _liveSince is null && _request is not null;
        var since = _liveSince;
        if (since is { } last && _captured is { } earlier)
        {
            CaptureLast(info, last, earlier);
            return;
        }
        BeginPhase("capture");
        RunStep("capture", cancel =>
        {
            // After a restart in a live checkpoint's last pause, a journalled chunk of a BO written since the rounds is copied again.
            var stale = since is { } s ? CheckpointImage.WrittenSince(driver, pid, s) : null;
            var captured = CheckpointImage.CaptureAndAdopt(driver, kfd, info, writer, chunkSize, saved, cancel, withMessages: !firstRound, stale);
            // The write clock while the process is still paused: the first running round reads every BO after it.
            var clock = firstRound ? driver.WrittenSince(pid, ulong.MaxValue)?.Clock ?? 0 : 0;
            return (Captured: captured, Clock: clock);
        }, result =>
        {
            _captured = result.Captured;
            if (_interrupt is not null)
            {
                Next();
                return;
            }
            CrashPoints.Hit("captured");
            if (firstRound)
            {
                _roundSince = result.Clock;
                Record(new UnpauseIntended(), Next);
                return;
            }
            CopyThenCommit(result.Captured);
        }, Fail);
    }

    private void CopyThenCommit(Captured captured)
    {
        BeginPhase("copy");
        CheckpointImage.CreateAhead(captured);
        StartContents(Works(captured, captured.Remaining), Landed, failure =>
        {
            if (_interrupt is not null) Next();
            else if (failure is not null) Fail(new StepFailed("copy", new IOException(failure)));
            else Commit();
        }, _round >= 0 ? $"r{_round + 1}" : null);
    }

    private List<DeviceWork> Works(Captured captured, IReadOnlyDictionary<string, IReadOnlyList<int>> chunks)
    {
        var driver = _driver;
        // A migration that streams this image takes each chunk from memory, as written, rather than reading it back.
        var kept = _kept = Request.ReportChunks ? CapturedPieces.Of(Request.ImagesDir) : null;
        return [.. captured.Process.Devices.Select(device => new DeviceWork(
            device, chunks[device.Device], kept is null ? captured.Files[device.Device] : [.. captured.Files[device.Device].Select(kept.Around)], null,
            bo => bo.Path == BoCopyPath.CopyEngine ? driver.CopyBo(bo.Minor, bo.Dmabuf, bo.MmapOffset, bo.Size, writable: false)
                : driver.MapBo(bo.Minor, bo.MmapOffset, bo.Size, writable: false),
            bos => driver.PrepareMaps([.. bos.Where(b => b.Path == BoCopyPath.Cpu).Select(b => b.Range)]),
            bos => driver.ForgetMaps([.. bos.Where(b => b.Path == BoCopyPath.Cpu).Select(b => b.Range)])))];
    }

    private void Landed(DeviceWork work, ChunkLanded landed)
    {
        var plan = work.Plan;
        var chunk = plan.Chunks[landed.ChunkIndex];
        CrashPoints.Hit("chunk");
        if (_journalledLive)
        {
            // A live checkpoint's later round read a chunk whose bytes did not change: the image and the client have them already.
            var key = ChunkSaved.KeyOf(plan.Device, chunk);
            if (_landedSums.TryGetValue(key, out var sum) && sum == landed.Checksum)
            {
                _kept?.Drop(_captured!.Files[plan.Device][chunk.FileIndex].FileName, chunk.FileOffset);
                return;
            }
            _landedSums[key] = landed.Checksum;
        }
        QueueProgress(new ChunkSaved(plan.Device, chunk.FileIndex, chunk.FileOffset, chunk.Length, landed.Checksum,
            plan.Bos[chunk.Pieces[0].BoIndex].Id, plan.Bos[chunk.Pieces[^1].BoIndex].Id));
        if (Request.ReportChunks)
        {
            var file = _captured!.Files[plan.Device][chunk.FileIndex];
            ReplyTo.Tell(new ImageChunkWritten(file.FileName, file.Length, chunk.FileOffset, chunk.Length, landed.Checksum));
        }
    }

    private void Commit()
    {
        var process = _captured!.Process;
        var writer = _writer!;
        var links = process.ImageLinks();
        var sign = Settings.Trust.Sign ? Settings.Trust.Key : null;
        var extra = new Dictionary<string, string> { [ManifestExtra.ChunkSize] = Started.ChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (process.CopyEngineKeys() is { Length: > 0 } copied) extra[ManifestExtra.CopyEngineBos] = copied;
        BeginPhase("commit");
        RunStep("commit", _ =>
        {
            var manifest = writer.Commit(links, extra, signWith: sign);
            CrashPoints.Hit("committed");
            return new Committed(new ImageCommitted(process.ContentBytes, process.BoCount, process.Devices.Count, CheckpointImage.ReferencedBytes(manifest)));
        }, committed =>
        {
            // Leaving it running: the intent to UNPAUSE goes into the journal with the commit, in one write.
            if (Request.LeaveRunning && !State.IntendsUnpause) Record([committed.Event, new UnpauseIntended()], Next);
            else Record(committed.Event, Next);
        }, Fail);
    }

    /// <summary>UNPAUSE, journalled before and after. EINVAL means it is not paused: a UNPAUSE before the crash took effect.</summary>
    private void Unpause(Action<string> onFailure, bool abandoning = false)
    {
        var pid = Request.Pid;
        var kfd = _kfd;
        var driver = _driver;
        var attempts = Settings.UnpauseAttempts;
        BeginPhase("unpause");
        RunStep("unpause", _ =>
        {
            CrashPoints.Hit("unpause-intended");
            IKfdFile file;
            try
            {
                file = kfd ?? driver.OpenKfd(pid);
            }
            catch (DriverException e) when (abandoning && e.ErrorNumber == Errno.ESRCH)
            {
                return new UnpauseDone(false); // a failed job whose process is gone has nothing to unpause
            }
            try
            {
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        KfdCheckpoint.Unpause(file);
                        return new UnpauseDone(true);
                    }
                    catch (DriverException e) when (e.ErrorNumber == Errno.EINVAL)
                    {
                        return new UnpauseDone(false); // not paused: an earlier attempt took effect
                    }
                    catch (DriverException e) when (attempt < attempts && e.ErrorNumber is Errno.EIO or Errno.EAGAIN or Errno.EINTR or Errno.EBUSY)
                    {
                        Thread.Sleep(TimeSpan.FromMilliseconds(50 * attempt));
                    }
                }
            }
            finally
            {
                if (kfd is null) file.Dispose();
            }
        }, _ =>
        {
            _pauseClock.Stop();
            CrashPoints.Hit("unpaused");
            if (State.Failing is null && Completion() is { } done) Record([new ProcessUnpaused(), new CheckpointFinished(done)], () => Answer(Request.Pid, done));
            else Record(new ProcessUnpaused(), Next);
        }, f => onFailure(f.Error.Message));
    }

    /// <summary>
    /// An interrupted job undoes its pause (journalled before and after, as always), then ends unfinished: the claim stays
    /// with it until `gpuckpt resume` checkpoints afresh or `gpuckpt abort` drops it.
    /// </summary>
    private void Interrupted(string signal)
    {
        if (State.IntendsPause && !State.Unpaused)
        {
            void UnpauseNow() => Unpause(onFailure: error => Fail(new StepFailed("unpause", new IOException($"interrupted by {signal}, and UNPAUSE failed: {error}"))),
                abandoning: true);
            if (State.IntendsUnpause) UnpauseNow();
            else Record(new UnpauseIntended(), UnpauseNow);
            return;
        }
        var unpaused = State.Unpaused;
        var captured = _captured;
        var writer = _writer;
        _captured = null;
        _writer = null;
        var started = Started;
        // What was copied under the undone pause is stale: the partial image goes, and a resume writes it afresh.
        RunStep("interrupt", _ =>
        {
            captured?.Process.Dispose();
            writer?.Dispose();
            CheckpointImage.RemovePartial(started.Request.ImagesDir, started.ImageId);
            return true;
        }, _ => Record(new CheckpointInterrupted(signal), () => Reply(new CheckpointInterruptedReply(JobId, Request.Pid, signal, unpaused))),
        f => Fail(new StepFailed("interrupt", new IOException($"interrupted by {signal}; removing the partial image failed: {f.Error.Message}"))));
    }

    private void Fail(StepFailed failed) => Record(new CheckpointFailing($"{failed.Step}: {failed.Error.Message}"), Next);

    /// <summary>Failure path, first half: mark the image failed (a problem doing so joins the reason).</summary>
    private void AbortImage()
    {
        var writer = _writer;
        var started = Started;
        var reason = State.Failing!;
        var removePartial = _control == JobControl.Abort;
        BeginPhase("abort");
        RunStep("abort", _ =>
        {
            try
            {
                var w = writer ?? CheckpointImage.ReopenForAbort(started.Request.ImagesDir, started.ImageId);
                w?.Abort(reason);
                if (writer is null) w?.Dispose();
                // Aborted by the user: the partial image is of no use to anyone, so it goes (a committed one stays).
                if (removePartial) CheckpointImage.RemovePartial(started.Request.ImagesDir, started.ImageId);
                return new Aborted(null);
            }
            catch (Exception e) when (e is IOException or ImageException or ObjectDisposedException or InvalidOperationException)
            {
                return new Aborted(e.Message);
            }
        }, aborted =>
        {
            _aborted = aborted.Problem is null ? "" : $" (and marking the image failed: {aborted.Problem})";
            Next();
        }, f =>
        {
            _aborted = $" (and {f.Step}: {f.Error.Message})";
            Next();
        });
    }

    /// <summary>Failure path, second half: unpause the process if this job may have paused it, then finish.</summary>
    private void AbandonProcess()
    {
        var reason = State.Failing + _aborted;
        if (State.IntendsPause && !State.Unpaused)
        {
            // PROCESS_INFO may have paused the process even when its answer never came: UNPAUSE then too (EINVAL: it was not).
            void UnpauseNow() => Unpause(onFailure: error => Finish(new CheckpointFailed(Request.Pid, $"{reason} (and UNPAUSE failed: {error})", false,
                _control == JobControl.Abort ? "aborted" : null)), abandoning: true);
            if (State.IntendsUnpause) UnpauseNow();
            else Record(new UnpauseIntended(), UnpauseNow);
            return;
        }
        Finish(new CheckpointFailed(Request.Pid, reason, State.Unpaused, _control == JobControl.Abort ? "aborted" : null));
    }

    private void Finish(ICheckpointMessage outcome)
    {
        if (State.Failing is not null && outcome is CheckpointCompleted) return;
        if (State.Failing is not null && State.Unpaused && outcome is CheckpointFailed f) outcome = f with { Unpaused = true };
        Record(new CheckpointFinished(outcome), () => Answer(Request.Pid, outcome));
    }
}
