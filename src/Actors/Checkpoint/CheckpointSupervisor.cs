using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// Owns one checkpoint of one process: PROCESS_INFO (pause) → CHECKPOINT and the render nodes → one device actor per
/// GPU and render node copying contents in parallel → commit the image → UNPAUSE when asked to leave it running.
/// Every step is journalled; a restarted engine continues the job where it stopped, adopting the chunks already in the
/// image instead of copying them again, and issues UNPAUSE exactly once. Any failure marks the image failed and
/// unpauses the process.
/// </summary>
public sealed class CheckpointSupervisor : JobActor
{
    private const int SnapshotEvery = 1000;
    private readonly string _jobId;
    private readonly CheckpointRequest? _request;
    private readonly IGpuDriver _driver;
    private readonly ChunkPool _pool;
    private readonly IActorRef _replyTo;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Stopwatch _pauseClock = new();
    private CheckpointState _state = new();
    private IKfdFile? _kfd;
    private ImageWriter? _writer;
    private Captured? _captured;
    private double _recoverySeconds;

    /// <param name="request">The job to start, or null to continue the journalled job <paramref name="jobId"/>.</param>
    public CheckpointSupervisor(string jobId, CheckpointRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo)
        : base(settings)
    {
        _jobId = jobId;
        _request = request;
        _driver = driver;
        _pool = pool;
        _replyTo = replyTo;
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is CheckpointState state) _state = state;
        });
        Recover<ICheckpointEvent>(e => _state.Apply(e));
        Recover<RecoveryCompleted>(_ =>
        {
            _recoverySeconds = _clock.Elapsed.TotalSeconds;
            Self.Tell(Continue.Instance);
        });
        Waiting();
    }

    public override string PersistenceId => $"checkpoint-{_jobId}";

    public static Props Props(string jobId, CheckpointRequest? request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new CheckpointSupervisor(jobId, request, driver, settings, pool, replyTo));

    private CheckpointStarted Started => _state.Started!;
    private CheckpointRequest Request => Started.Request;

    protected override void PostStop()
    {
        base.PostStop();
        _captured?.Process.Dispose();
        _writer?.Dispose();
        _kfd?.Dispose();
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _replyTo.Tell(new CheckpointFailed(_request?.Pid ?? 0, $"journal of job {_jobId} could not be read: {reason.Message}", false));
        base.OnRecoveryFailure(reason, message);
    }

    private void Waiting()
    {
        Command<Continue>(_ => Next());
        CommandSnapshots();
    }

    /// <summary>Decides the next step from what the journal says is done.</summary>
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
                Reply(new JobUnknown(_jobId));
                return;
            }
            Persist(new CheckpointStarted(_jobId, _request, _driver.Name, Settings.ChunkSize, Guid.NewGuid().ToString("N")), e =>
            {
                _state.Apply(e);
                Next();
            });
            return;
        }
        if (_state.Failing is not null)
        {
            AbortImage();
            return;
        }
        if (_state.Committed is null)
        {
            Pause();
            return;
        }
        if (Request.LeaveRunning && !_state.IntendsUnpause)
        {
            Persist(new UnpauseIntended(), e =>
            {
                _state.Apply(e);
                Next();
            });
            return;
        }
        if (_state.IntendsUnpause && !_state.Unpaused)
        {
            Unpause(onFailure: error => Finish(new CheckpointFailed(Request.Pid, $"image committed, but UNPAUSE failed: {error}", false)));
            return;
        }
        _pauseClock.Stop();
        var committed = _state.Committed;
        Finish(new CheckpointCompleted(new CheckpointSummary(
            _jobId, Request.Pid, Request.ImagesDir, Started.ImageId, committed.Bytes, committed.Bos, committed.Devices,
            _clock.Elapsed.TotalSeconds, _pauseClock.Elapsed.TotalSeconds, !Request.LeaveRunning, _recoverySeconds)));
    }

    /// <summary>Opens the image (new, or the one a killed engine left) and pauses the process; PROCESS_INFO may be repeated.</summary>
    private void Pause()
    {
        Become(Pausing);
        var started = Started;
        var driver = _driver;
        RunStep("pause", () =>
        {
            var writer = CheckpointImage.Open(started, driver);
            if (writer is null) return (object)new Committed(CheckpointImage.CommittedFromManifest(started));
            try
            {
                var kfd = driver.OpenKfd(started.Request.Pid);
                try
                {
                    return new Paused(kfd, KfdCheckpoint.ProcessInfo(kfd), writer);
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
        });
    }

    private void Pausing()
    {
        Command<Paused>(paused =>
        {
            _kfd = paused.Kfd;
            _writer = paused.Writer;
            _pauseClock.Start();
            CrashPoints.Hit("paused");
            var e = new ProcessPaused(paused.Info.NumDevices, paused.Info.NumBos, paused.Info.NumObjects, paused.Info.PrivDataSize);
            Persist(e, ev =>
            {
                _state.Apply(ev);
                Capture(paused.Info);
            });
        });
        Command<Committed>(OnCommitted);
        Command<StepFailed>(Fail);
        CommandSnapshots();
    }

    private void Capture(KfdProcessInfo info)
    {
        Become(Capturing);
        var kfd = _kfd!;
        var writer = _writer!;
        var driver = _driver;
        var chunkSize = Started.ChunkSize;
        var saved = _state.Chunks;
        RunStep("capture", () => CheckpointImage.CaptureAndAdopt(driver, kfd, info, writer, chunkSize, saved));
    }

    private void Capturing()
    {
        Command<Captured>(captured =>
        {
            _captured = captured;
            CrashPoints.Hit("captured");
            Become(Copying);
            var driver = _driver;
            var pool = _pool;
            StartCopies(captured.Process.Devices.Select(device =>
            {
                var bos = device.Bos;
                var chunks = captured.Remaining[device.Device];
                var table = new BoMappingTable(chunks, i => driver.MapBo(bos[i].Minor, bos[i].MmapOffset, bos[i].Size, writable: false));
                IReadOnlyList<IChunkSink> sinks = captured.Files[device.Device];
                return (device, chunks, table, (Func<CopyChunk, CancellationToken, Task<ulong>>)((chunk, ct) => ChunkCopier.SaveAsync(chunk, table, sinks, pool, ct)));
            }).ToList());
            if (!CopiesRunning) Commit();
        });
        Command<StepFailed>(Fail);
        CommandSnapshots();
    }

    private void Copying()
    {
        CommandCopies(
            landed =>
            {
                var chunk = _captured!.Remaining[landed.Device][landed.ChunkIndex];
                CrashPoints.Hit("chunk");
                PersistAsync(new ChunkSaved(landed.Device, chunk.FileIndex, chunk.FileOffset, chunk.Length, landed.Checksum), e =>
                {
                    _state.Apply(e);
                    if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_state.Copy());
                });
            },
            failure =>
            {
                if (failure is not null) Fail(new StepFailed("copy", new IOException(failure)));
                else Commit();
            });
        CommandSnapshots();
    }

    private void Commit()
    {
        Become(Committing);
        var process = _captured!.Process;
        var writer = _writer!;
        var links = process.ImageLinks();
        RunStep("commit", () =>
        {
            writer.Commit(links);
            CrashPoints.Hit("committed");
            return new Committed(new ImageCommitted(process.ContentBytes, process.BoCount, process.Devices.Count));
        });
    }

    private void Committing()
    {
        Command<Committed>(OnCommitted);
        Command<StepFailed>(Fail);
        CommandSnapshots();
    }

    private void OnCommitted(Committed committed) => Persist(committed.Event, e =>
    {
        _state.Apply(e);
        Become(Waiting);
        Next();
    });

    /// <summary>UNPAUSE, journalled before and after. EINVAL means it is not paused: a UNPAUSE before the crash took effect.</summary>
    private void Unpause(Action<string> onFailure)
    {
        Become(() => Unpausing(onFailure));
        var pid = Request.Pid;
        var kfd = _kfd;
        var driver = _driver;
        RunStep("unpause", () =>
        {
            CrashPoints.Hit("unpause-intended");
            var file = kfd ?? driver.OpenKfd(pid);
            try
            {
                KfdCheckpoint.Unpause(file);
                return new UnpauseDone(true);
            }
            catch (DriverException e) when (e.ErrorNumber == Errno.EINVAL)
            {
                return new UnpauseDone(false);
            }
            finally
            {
                if (kfd is null) file.Dispose();
            }
        });
    }

    private void Unpausing(Action<string> onFailure)
    {
        Command<UnpauseDone>(_ =>
        {
            _pauseClock.Stop();
            CrashPoints.Hit("unpaused");
            Persist(new ProcessUnpaused(), e =>
            {
                _state.Apply(e);
                Become(Waiting);
                Next();
            });
        });
        Command<StepFailed>(f => onFailure(f.Error.Message));
        CommandSnapshots();
    }

    private void Fail(StepFailed failed)
    {
        Become(Waiting);
        Persist(new CheckpointFailing($"{failed.Step}: {failed.Error.Message}"), e =>
        {
            _state.Apply(e);
            Next();
        });
    }

    /// <summary>Failure path: mark the image failed, then unpause the process if this job paused it.</summary>
    private void AbortImage()
    {
        Become(Aborting);
        var writer = _writer;
        var started = Started;
        var reason = _state.Failing!;
        RunStep("abort", () =>
        {
            try
            {
                var w = writer ?? CheckpointImage.ReopenForAbort(started.Request.ImagesDir, started.ImageId);
                w?.Abort(reason);
                if (writer is null) w?.Dispose();
                return new Aborted(null);
            }
            catch (Exception e) when (e is IOException or ImageException or ObjectDisposedException or InvalidOperationException)
            {
                return new Aborted(e.Message);
            }
        });
    }

    private void Aborting()
    {
        Command<Aborted>(_ =>
        {
            if (_state.Paused is not null && !_state.Unpaused)
            {
                if (!_state.IntendsUnpause)
                    Persist(new UnpauseIntended(), e => _state.Apply(e));
                Unpause(onFailure: error => Finish(new CheckpointFailed(Request.Pid, $"{_state.Failing} (and UNPAUSE failed: {error})", false)));
                return;
            }
            Finish(new CheckpointFailed(Request.Pid, _state.Failing!, _state.Unpaused));
        });
        Command<StepFailed>(f => Finish(new CheckpointFailed(Request.Pid, $"{_state.Failing} (and {f.Step}: {f.Error.Message})", false)));
        CommandSnapshots();
    }

    private void Finish(ICheckpointMessage outcome)
    {
        if (_state.Failing is not null && outcome is CheckpointCompleted) return;
        if (_state.Failing is not null && _state.Unpaused && outcome is CheckpointFailed f) outcome = f with { Unpaused = true };
        Become(Waiting);
        Persist(new CheckpointFinished(outcome), e =>
        {
            _state.Apply(e);
            Reply(outcome);
        });
    }

    private void Reply(object message)
    {
        _replyTo.Tell(message);
        Context.Stop(Self);
    }
}
