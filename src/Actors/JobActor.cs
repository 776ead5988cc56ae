using Akka.Actor;
using Akka.Persistence;
using Gpuckpt.Actors.Copy;
using Gpuckpt.Engine.Copy;

namespace Gpuckpt.Actors;

/// <summary>Look at the journal and take the next step.</summary>
internal sealed class Continue : INoSerializationVerificationNeeded
{
    public static readonly Continue Instance = new();
    private Continue() { }
}

/// <summary>A step of a job failed (its task threw or timed out).</summary>
internal sealed record StepFailed(string Step, Exception Error) : INoSerializationVerificationNeeded;

/// <summary>
/// What checkpoint and restore jobs share: they are persistent (every step that matters is journalled, so a restarted
/// engine continues them); driver steps run as tasks whose results come back as messages; contents are copied by
/// one device actor per device, all of which must land (or drain after a failure) before the job goes on.
/// </summary>
public abstract class JobActor : ReceivePersistentActor
{
    private readonly HashSet<IActorRef> _devices = [];
    private readonly List<BoMappingTable> _tables = [];
    private string? _copyFailure;

    protected JobActor(EngineSettings settings) => Settings = settings;

    protected EngineSettings Settings { get; }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(0, TimeSpan.Zero, _ => Directive.Stop);

    protected override void PostStop()
    {
        DisposeTables();
        base.PostStop();
    }

    /// <summary>Runs a blocking driver step off the actor; its result (or <see cref="StepFailed"/>) comes back to Self.</summary>
    protected void RunStep<T>(string step, Func<T> body) where T : notnull =>
        Task.Run(() => (object)body()).WaitAsync(Settings.OpTimeout)
            .PipeTo(Self, failure: e => new StepFailed(step, e is AggregateException { InnerException: { } inner } ? inner : e));

    /// <summary>Starts one device actor per device; <see cref="CommandCopies"/> reports when all are done.</summary>
    protected void StartCopies(IEnumerable<(DeviceContents Device, IReadOnlyList<CopyChunk> Chunks, BoMappingTable Table, Func<CopyChunk, CancellationToken, Task<ulong>> Copy)> devices)
    {
        _copyFailure = null;
        foreach (var (device, chunks, table, copy) in devices)
        {
            _tables.Add(table);
            var actor = Context.ActorOf(DeviceCopyActor.Props(device.Device, chunks, copy, Settings.WorkersPerDevice),
                Uri.EscapeDataString(device.Device.Replace(' ', '-')));
            Context.Watch(actor);
            _devices.Add(actor);
        }
    }

    protected bool CopiesRunning => _devices.Count > 0;

    /// <summary>
    /// Handles the device actors' reports: <paramref name="landed"/> for every chunk in place, then
    /// <paramref name="done"/> once with null or the first failure, after every device has stopped.
    /// </summary>
    protected void CommandCopies(Action<ChunkLanded> landed, Action<string?> done)
    {
        void Finished(IActorRef device, string? failure)
        {
            if (!_devices.Remove(device)) return;
            Context.Unwatch(device);
            if (failure is not null && _copyFailure is null)
            {
                _copyFailure = failure;
                foreach (var other in _devices) other.Tell(AbortCopy.Instance);
            }
            if (_devices.Count > 0) return;
            DisposeTables();
            done(_copyFailure);
        }

        Command<ChunkLanded>(landed);
        Command<DeviceCopied>(_ => Finished(Sender, null));
        Command<DeviceCopyFailed>(f => Finished(Sender, f.Reason));
        Command<Terminated>(t => Finished(t.ActorRef, $"{Uri.UnescapeDataString(t.ActorRef.Path.Name)} stopped unexpectedly"));
    }

    /// <summary>After a snapshot is stored, the events and older snapshots it covers are no longer needed.</summary>
    protected void CommandSnapshots()
    {
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    private void DisposeTables()
    {
        foreach (var table in _tables) table.Dispose();
        _tables.Clear();
    }
}
