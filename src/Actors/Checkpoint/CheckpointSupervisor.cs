using System.Diagnostics;
using Akka.Actor;
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
/// Any failure marks the image failed and unpauses the process exactly once.
/// </summary>
public sealed class CheckpointSupervisor : JobActor
{
    private readonly CheckpointRequest _request;
    private readonly IGpuDriver _driver;
    private readonly ChunkPool _pool;
    private readonly IActorRef _replyTo;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Stopwatch _pauseClock = new();
    private IKfdFile? _kfd;
    private ImageWriter? _writer;
    private Captured? _captured;
    private bool _paused;
    private bool _unpauseIssued;
    private string? _failure;

    public CheckpointSupervisor(CheckpointRequest request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) : base(settings)
    {
        _request = request;
        _driver = driver;
        _pool = pool;
        _replyTo = replyTo;
        Pausing();
    }

    public static Props Props(CheckpointRequest request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new CheckpointSupervisor(request, driver, settings, pool, replyTo));

    protected override void PreStart()
    {
        var pid = _request.Pid;
        var driver = _driver;
        try
        {
            _writer = ImageWriter.Create(_request.ImagesDir, new ImageHeader(
                Guid.NewGuid().ToString("N"), new ImageSource(driver.Name, (int)pid, Environment.MachineName), driver.Topology()));
        }
        catch (Exception e) when (e is IOException or ImageException or DriverException or UnauthorizedAccessException)
        {
            // Nothing was paused: the process is untouched.
            Reply(new CheckpointFailed(pid, $"image: {e.Message}", Unpaused: false));
            return;
        }
        RunStep("pause", () =>
        {
            var kfd = driver.OpenKfd(pid);
            try
            {
                return new Paused(kfd, KfdCheckpoint.ProcessInfo(kfd));
            }
            catch
            {
                kfd.Dispose();
                throw;
            }
        });
    }

    protected override void PostStop()
    {
        base.PostStop();
        _writer?.Dispose();
        _kfd?.Dispose();
    }

    private void Pausing()
    {
        Receive<Paused>(paused =>
        {
            _kfd = paused.Kfd;
            _paused = true;
            _pauseClock.Start();
            Become(Capturing);
            var kfd = paused.Kfd;
            RunStep("capture", () => Capture(kfd, paused.Info));
        });
        Receive<StepFailed>(Fail);
    }

    private Captured Capture(IKfdFile kfd, KfdProcessInfo info)
    {
        var process = CheckpointCapture.Capture(_driver, kfd, info, Settings.ChunkSize);
        var writer = _writer!;
        writer.WriteMessage(ImageFileName.Kfd(ImageIds.Kfd), process.Kfd);
        foreach (var node in process.RenderNodes) writer.WriteMessage(ImageFileName.RenderNode((int)node.Id), node);
        for (var i = 0; i < process.Links.Count; i++)
            writer.WriteMessage(ImageFileName.Dmabuf(ImageIds.Dmabuf(i)), new CriuDmabufNode { GemHandle = process.Links[i].Handle });
        var files = process.Devices.ToDictionary(d => d.Device, d => d.Files.Select(f => writer.OpenPages(f.FileName, f.Length)).ToArray());
        return new Captured(process, writer, files);
    }

    private void Capturing()
    {
        Receive<Captured>(captured =>
        {
            _captured = captured;
            Become(Copying);
            var driver = _driver;
            var pool = _pool;
            StartCopies(captured.Process.Devices.Select(device =>
            {
                var bos = device.Bos;
                var table = new BoMappingTable(device.Chunks, i => driver.MapBo(bos[i].Minor, bos[i].MmapOffset, bos[i].Size, writable: false));
                var sinks = captured.Files[device.Device].Select(f => (IChunkSink)new PageFileSink(f)).ToArray();
                return (device, table, (Func<CopyChunk, CancellationToken, Task>)((chunk, ct) => ChunkCopier.SaveAsync(chunk, table, sinks, pool, ct)));
            }));
            if (!CopiesRunning) Commit();
        });
        Receive<StepFailed>(Fail);
    }

    private void Copying() => ReceiveCopies(failure =>
    {
        if (failure is not null) Fail(new StepFailed("copy", new IOException(failure)));
        else Commit();
    });

    private void Commit()
    {
        Become(Committing);
        var captured = _captured!;
        var links = captured.Process.Links.Select(l => ToImageLink(l, captured.Process)).ToList();
        RunStep("commit", () => new Committed(captured.Writer.Commit(links)));
    }

    private void Committing()
    {
        Receive<Committed>(_ =>
        {
            if (!_request.LeaveRunning)
            {
                Complete();
                return;
            }
            Become(Unpausing);
            _unpauseIssued = true;
            var kfd = _kfd!;
            RunStep("unpause", () =>
            {
                KfdCheckpoint.Unpause(kfd);
                return Unpaused.Instance;
            });
        });
        Receive<StepFailed>(Fail);
    }

    private void Unpausing()
    {
        Receive<Unpaused>(_ =>
        {
            _pauseClock.Stop();
            Complete();
        });
        // The image is committed; only the unpause failed.
        Receive<StepFailed>(f => Reply(new CheckpointFailed(_request.Pid, $"image committed, but UNPAUSE failed: {f.Error.Message}", false)));
    }

    private void Complete()
    {
        var process = _captured!.Process;
        Reply(new CheckpointCompleted(new CheckpointSummary(
            _request.Pid, _request.ImagesDir, _captured.Writer.ImageId, process.ContentBytes, process.BoCount,
            process.Devices.Count, _clock.Elapsed.TotalSeconds, _pauseClock.Elapsed.TotalSeconds, !_request.LeaveRunning)));
    }

    private void Fail(StepFailed failed)
    {
        Become(Failing);
        var reason = $"{failed.Step}: {failed.Error.Message}";
        var writer = _writer;
        var kfd = _kfd;
        var unpause = _paused && !_unpauseIssued;
        _unpauseIssued |= unpause;
        Task.Run(() =>
        {
            writer?.Abort(reason);
            if (!unpause || kfd is null) return new CleanupDone(false, null);
            try
            {
                KfdCheckpoint.Unpause(kfd);
                return new CleanupDone(true, null);
            }
            catch (Exception e)
            {
                return new CleanupDone(false, e.Message);
            }
        }).PipeTo(Self, failure: e => new CleanupDone(false, e.Message));
        _failure = reason;
    }

    private void Failing()
    {
        Receive<CleanupDone>(done => Reply(new CheckpointFailed(_request.Pid,
            done.UnpauseError is null ? _failure! : $"{_failure} (and UNPAUSE failed: {done.UnpauseError})", done.Unpaused)));
        Receive<StepFailed>(_ => { });
        // A pause that answered after its step had timed out: that process must not stay paused.
        Receive<Paused>(late => Task.Run(() =>
        {
            using var kfd = late.Kfd;
            KfdCheckpoint.Unpause(kfd);
        }));
    }

    private void Reply(object message)
    {
        _replyTo.Tell(message);
        Context.Stop(Self);
    }

    private static ImageLink ToImageLink(ResolvedImport link, CapturedProcess process)
    {
        var nodeId = NodeIdOf(process, link.GpuId);
        return link.Exporter switch
        {
            Exporter.Kfd k => ImportLink.FromKfd(nodeId, link.Handle, k.GpuId, k.Addr),
            Exporter.Render r => ImportLink.FromRender(nodeId, link.Handle, r.GpuId, NodeIdOf(process, r.GpuId), r.Handle),
            _ => throw new InvalidOperationException($"unknown exporter {link.Exporter}"),
        };
    }

    private static int NodeIdOf(CapturedProcess process, uint gpuId) =>
        (int)process.RenderNodes.First(n => n.GpuId == gpuId).Id;
}
