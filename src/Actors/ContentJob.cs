using Akka.Actor;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors;

/// <summary>
/// A persistent job that moves BO contents: it runs one device actor per GPU and render node (each the parent of its
/// BO actors) and goes on once every device has landed its chunks, or has drained after the first failure.
/// </summary>
public abstract class ContentJob<TState, TEvent> : PersistentJob<TState, TEvent>
    where TState : class, IJobState<TEvent>, new()
    where TEvent : class
{
    private readonly Dictionary<IActorRef, DeviceWork?> _devices = new();
    private Action<DeviceWork, ChunkLanded>? _landed;
    private Action<string?>? _copiesDone;
    private string? _copyFailure;
    private int _copying;

    protected ContentJob(string jobId, EngineSettings settings, ChunkPool pool, IActorRef replyTo) : base(jobId, settings, replyTo)
    {
        Pool = pool;
        Command<ChunkLanded>(l =>
        {
            if (_devices.GetValueOrDefault(Sender) is { } work) _landed?.Invoke(work, l);
        });
        Command<DeviceCopied>(_ => DeviceFinished(Sender, null));
        Command<DeviceCopyFailed>(f => DeviceFinished(Sender, f.Reason));
        Command<Terminated>(t =>
        {
            if (_devices.ContainsKey(t.ActorRef)) DeviceFinished(t.ActorRef, $"{Uri.UnescapeDataString(t.ActorRef.Path.Name)} stopped unexpectedly");
        });
    }

    protected ChunkPool Pool { get; }

    protected override void PreStart()
    {
        if (Settings.PublishActorTree) Context.System.EventStream.Publish(new ActorStartedAt(Self.Path.ToStringWithoutAddress()));
        base.PreStart();
    }

    /// <summary>A render node's device actor for the restore passes; it copies its contents later, in <see cref="StartContents"/>.</summary>
    protected IActorRef StartRenderNode(string device, RenderNodeWork work)
    {
        var actor = Context.ActorOf(DeviceActor.ForRenderNode(device, work, Settings, Pool), DeviceActor.ActorName(device));
        Context.Watch(actor);
        _devices[actor] = null;
        return actor;
    }

    /// <summary>Stops every device actor (a failed restore is rolled back after this).</summary>
    protected void StopDevices()
    {
        foreach (var device in _devices.Keys)
        {
            Context.Unwatch(device);
            Context.Stop(device);
        }
        _devices.Clear();
        _copying = 0;
    }

    /// <summary>
    /// Copies every device's contents: a new device actor each, or the render node's actor from the passes. Every chunk
    /// in place goes to <paramref name="landed"/>; then <paramref name="done"/> once, with null or the first failure,
    /// after every device has stopped. A copy after another one (a live checkpoint's later round) names its device actors
    /// with <paramref name="round"/>: the last round's may still be stopping.
    /// </summary>
    protected void StartContents(IReadOnlyList<DeviceWork> works, Action<DeviceWork, ChunkLanded> landed, Action<string?> done, string? round = null)
    {
        _copyFailure = null;
        _landed = landed;
        _copiesDone = done;
        string Name(DeviceWork w) => DeviceActor.ActorName(w.Plan.Device) + (round is null ? "" : $"-{round}");
        var names = works.Select(Name).ToHashSet();
        foreach (var idle in _devices.Keys.Where(d => !names.Contains(d.Path.Name)).ToList())
        {
            // A render node without contents of its own: its passes were all it had to do.
            Context.Unwatch(idle);
            Context.Stop(idle);
            _devices.Remove(idle);
        }
        foreach (var work in works)
        {
            var existing = _devices.Keys.FirstOrDefault(d => d.Path.Name == Name(work));
            if (existing is not null) existing.Tell(new CopyContents(work));
            else
            {
                existing = Context.ActorOf(DeviceActor.Props(work, Settings, Pool), Name(work));
                Context.Watch(existing);
            }
            _devices[existing] = work;
            _copying++;
        }
        if (_copying == 0) CopiesFinished();
    }

    /// <summary>Stops a copy in flight as a failure would: <see cref="StartContents"/>'s callback follows once every device has stopped.</summary>
    protected void AbortContents(string reason)
    {
        if (_copiesDone is null) return;
        _copyFailure ??= reason;
        foreach (var device in _devices.Keys) device.Tell(AbortCopy.Instance);
    }

    private void DeviceFinished(IActorRef device, string? failure)
    {
        if (!_devices.Remove(device, out var work)) return;
        Context.Unwatch(device);
        if (work is null)
        {
            OnDeviceLost(device.Path.Name, failure ?? "stopped");
            return;
        }
        if (failure is not null && _copyFailure is null)
        {
            _copyFailure = failure;
            foreach (var other in _devices.Keys) other.Tell(AbortCopy.Instance);
        }
        if (--_copying == 0) CopiesFinished();
    }

    /// <summary>A device actor that was not copying (a render node between its passes) stopped.</summary>
    protected virtual void OnDeviceLost(string device, string reason) { }

    private void CopiesFinished()
    {
        WriteProgress();
        var done = _copiesDone;
        _landed = null;
        _copiesDone = null;
        done?.Invoke(_copyFailure);
    }
}
