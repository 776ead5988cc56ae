using System.Diagnostics;
using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>
/// Runs one restore in stages: verify the whole image (nothing touches a device before it is proven whole) → map its
/// GPUs onto local ones → KFD RESTORE → render-node BOs in passes (imports once their exporters exist) → contents
/// written back in parallel, checksums checked as they stream → RESUME once. A failure rolls back what was created.
/// </summary>
public sealed class RestoreCoordinator : JobActor
{
    private readonly RestoreRequest _request;
    private readonly IGpuDriver _driver;
    private readonly ChunkPool _pool;
    private readonly IActorRef _replyTo;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<IDisposable> _sources = [];
    private Planned? _planned;
    private DeviceStateRestored? _restored;

    public RestoreCoordinator(RestoreRequest request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) : base(settings)
    {
        _request = request;
        _driver = driver;
        _pool = pool;
        _replyTo = replyTo;
        Verifying();
    }

    public static Props Props(RestoreRequest request, IGpuDriver driver, EngineSettings settings, ChunkPool pool, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new RestoreCoordinator(request, driver, settings, pool, replyTo));

    protected override void PreStart()
    {
        var dir = _request.ImagesDir;
        var driver = _driver;
        RunStep("verify", () => new Planned(RestorePlan.Prepare(dir, driver.Topology())));
    }

    protected override void PostStop()
    {
        base.PostStop();
        foreach (var source in _sources) source.Dispose();
        _restored?.Session.Dispose();
    }

    private void Verifying()
    {
        Receive<Planned>(planned =>
        {
            _planned = planned;
            Become(RestoringDeviceState);
            var driver = _driver;
            var chunkSize = Settings.ChunkSize;
            RunStep("restore device state", () =>
            {
                var session = RestoreSession.Begin(driver, planned.Plan.Image, planned.Plan.Map);
                try
                {
                    session.RestoreKfd();
                    var passes = RenderRestorePasses.Run(planned.Plan.Image.RenderNodes, planned.Plan.Image.Imports, planned.Plan.Image.Kfd, session);
                    return new DeviceStateRestored(session, passes, session.ContentsPlan(chunkSize));
                }
                catch (Exception e)
                {
                    var problems = session.Rollback();
                    session.Dispose();
                    throw problems.Count == 0 ? e : new AggregateException($"{e.Message} (rollback: {string.Join("; ", problems)})", e);
                }
            });
        });
        Receive<StepFailed>(f => Reply(new RestoreFailed(_request.ImagesDir, Describe(f))));
    }

    private void RestoringDeviceState()
    {
        Receive<DeviceStateRestored>(restored =>
        {
            _restored = restored;
            Become(WritingContents);
            var driver = _driver;
            var pool = _pool;
            var reader = _planned!.Plan.Image.Reader;
            try
            {
                StartCopies(restored.Contents.Select(device =>
                {
                    var bos = device.Bos;
                    var table = new BoMappingTable(device.Chunks, i => driver.MapBo(bos[i].Minor, bos[i].MmapOffset, bos[i].Size, writable: true));
                    var sources = device.Files.Select(f =>
                    {
                        var file = reader.OpenPages(f.FileName);
                        _sources.Add(file);
                        return (IChunkSource)new PageFileSource(file);
                    }).ToArray();
                    return (device, table, (Func<CopyChunk, CancellationToken, Task>)((chunk, ct) => ChunkCopier.RestoreAsync(chunk, table, sources, pool, ct)));
                }).ToList());
            }
            catch (Exception e)
            {
                RollBack($"contents: {e.Message}");
                return;
            }
            if (!CopiesRunning) Resume();
        });
        Receive<StepFailed>(f => Reply(new RestoreFailed(_request.ImagesDir, Describe(f))));
    }

    private void WritingContents() => ReceiveCopies(failure =>
    {
        if (failure is not null) RollBack($"contents: {failure}");
        else Resume();
    });

    private void Resume()
    {
        Become(Resuming);
        var session = _restored!.Session;
        RunStep("resume", () =>
        {
            session.Resume();
            return new Resumed(session.Pid);
        });
    }

    private void Resuming()
    {
        Receive<Resumed>(resumed =>
        {
            var image = _planned!.Plan.Image;
            var contents = _restored!.Contents;
            Reply(new RestoreCompleted(new RestoreSummary(
                resumed.Pid,
                _request.ImagesDir,
                contents.Sum(d => d.Bytes),
                image.Kfd.BoEntries.Count + image.RenderNodes.Sum(n => n.BoEntries.Count),
                contents.Count,
                _restored.Passes.Count,
                _clock.Elapsed.TotalSeconds,
                _planned.Plan.Map.ByUserGpuId.ToDictionary(kv => $"0x{kv.Key:x}", kv => $"0x{kv.Value.GpuId:x}"))));
        });
        Receive<StepFailed>(f => RollBack(Describe(f)));
    }

    private void RollBack(string reason)
    {
        Become(RollingBack);
        var session = _restored!.Session;
        Task.Run(() =>
        {
            var problems = session.Rollback();
            return new RolledBack(problems.Count == 0 ? reason : $"{reason} (rollback: {string.Join("; ", problems)})");
        }).PipeTo(Self, failure: e => new RolledBack($"{reason} (rollback failed: {e.Message})"));
    }

    private void RollingBack() => Receive<RolledBack>(r => Reply(new RestoreFailed(_request.ImagesDir, r.Reason)));

    private static string Describe(StepFailed f) => $"{f.Step}: {f.Error.Message}";

    private void Reply(object message)
    {
        _replyTo.Tell(message);
        Context.Stop(Self);
    }
}
