using System.Text.Json;
using Akka.Actor;
using Akka.Persistence;
using Gpuckpt.Actors.Checkpoint;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Actors.Restore;
using Gpuckpt.Actors.Serialization;
using Xunit;

namespace Gpuckpt.Actors.Tests.Golden;

/// <summary>
/// Journals written by an earlier engine (Golden/README.md) are read by this one: every event and snapshot comes back
/// with every field it had, carries over into the event schema unchanged, and adds up to the job it was.
/// </summary>
public sealed class GoldenJournalSpecs : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("gpuckpt-golden-").FullName;

    public static TheoryData<string> Kinds() =>
        ["checkpoint-completed", "checkpoint-interrupted", "restore", "claim", "migration-source", "migration-target"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Every_event_and_snapshot_of_a_golden_journal_reads_back_as_the_engine_that_wrote_it_read_it(string kind)
    {
        var expected = Expected(kind, "journal");
        var expectedSnapshots = Expected(kind, "snapshots");
        using var sys = Open(kind);
        var journal = await JobJournal.OpenAsync(sys);
        var events = sys.Serialization.FindSerializerForType(typeof(ICheckpointEvent));

        var read = new List<GoldenRow>();
        foreach (var row in expected)
        {
            var envelope = Assert.Single(await journal.EventsAsync(row.PersistenceId, row.SequenceNr, row.SequenceNr));
            read.Add(new GoldenRow(envelope.PersistenceId, envelope.SequenceNr, envelope.Event.GetType().Name, EventText.Of(envelope.Event)));
            Assert.Equal(EventText.Of(envelope.Event), EventText.Of(CarriedOver(sys, envelope.Event)));
        }
        var snapshots = new List<GoldenRow>();
        foreach (var id in expectedSnapshots.Select(r => r.PersistenceId).Distinct())
        {
            var loaded = await LoadSnapshot(sys, id) ?? throw new Xunit.Sdk.XunitException($"no snapshot of {id} in the {kind} golden files");
            snapshots.Add(new GoldenRow(id, loaded.Metadata.SequenceNr, loaded.Snapshot.GetType().Name, EventText.Of(loaded.Snapshot)));
            Assert.Equal(EventText.Of(loaded.Snapshot), EventText.Of(CarriedOver(sys, loaded.Snapshot)));
        }

        Assert.NotEmpty(expected);
        Assert.IsType<EventSerializer>(events);
        Assert.Equal(expected, read);
        Assert.Equal(expectedSnapshots, snapshots);
    }

    [Fact]
    public async Task Golden_jobs_add_up_to_what_they_were_a_finished_checkpoint_and_restore_and_an_interrupted_checkpoint()
    {
        var completed = await Fold<CheckpointState, ICheckpointEvent>("checkpoint-completed", "checkpoint-ckpt-golden0completed");
        var interrupted = await Fold<CheckpointState, ICheckpointEvent>("checkpoint-interrupted", "checkpoint-ckpt-golden0interrupted");
        var restored = await Fold<RestoreState, IRestoreEvent>("restore", "restore-rest-golden0restored");

        var summary = Assert.IsType<CheckpointCompleted>(completed.Finished).Summary;
        Assert.True(completed.Unpaused);
        Assert.Equal(summary.Bytes, completed.Committed!.Bytes);
        Assert.NotEmpty(completed.Chunks);
        Assert.Equal("SIGTERM", interrupted.Interrupted);
        Assert.Null(interrupted.Finished);
        var restore = Assert.IsType<RestoreCompleted>(restored.Finished).Summary;
        Assert.Equal(completed.Started!.Request.ImagesDir, restore.ImagesDir);
        Assert.True(restore.Bytes > 0, "the golden restore wrote no contents");
        Assert.NotEmpty(restored.Written);
        Assert.True(restored.Resumed);
    }

    /// <summary>What a restarted job recovers: its latest snapshot, then the events after it.</summary>
    private async Task<TState> Fold<TState, TEvent>(string kind, string persistenceId) where TState : class, IJobState<TEvent>, new()
    {
        using var sys = Open(kind);
        var loaded = await LoadSnapshot(sys, persistenceId);
        var state = loaded?.Snapshot as TState ?? new TState();
        var journal = await JobJournal.OpenAsync(sys);
        foreach (var envelope in await journal.EventsAsync(persistenceId, (loaded?.Metadata.SequenceNr ?? 0) + 1, long.MaxValue))
            state.Apply((TEvent)envelope.Event);
        return state;
    }

    /// <summary>The value written with today's serializer for it and read back.</summary>
    private static object CarriedOver(ActorSystem sys, object value)
    {
        var serializer = Assert.IsType<EventSerializer>(sys.Serialization.FindSerializerFor(value));
        return serializer.FromBinary(serializer.ToBinary(value), serializer.Manifest(value));
    }

    private static async Task<SelectedSnapshot?> LoadSnapshot(ActorSystem sys, string persistenceId)
    {
        var store = Akka.Persistence.Persistence.Instance.Apply(sys).SnapshotStoreFor(null);
        var result = await store.Ask<LoadSnapshotResult>(new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromSeconds(30));
        return result.Snapshot;
    }

    /// <summary>An engine on a copy of the golden files of <paramref name="kind"/> (the originals stay as they are).</summary>
    private ActorSystem Open(string kind)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_state, Guid.NewGuid().ToString("N"))).FullName;
        var golden = Path.Combine(AppContext.BaseDirectory, "Golden");
        File.Copy(Path.Combine(golden, $"{kind}.journal.db"), Path.Combine(dir, "jobs-journal.db"));
        var snapshots = Path.Combine(golden, $"{kind}.snapshots.db");
        if (File.Exists(snapshots)) File.Copy(snapshots, Path.Combine(dir, "jobs-snapshots.db"));
        return ActorSystem.Create("golden", JournalConfig.Load("journal-sqlite.conf", dir).WithFallback(EngineConfig.Load()));
    }

    private static List<GoldenRow> Expected(string kind, string part)
    {
        var file = Path.Combine(AppContext.BaseDirectory, "Golden", $"{kind}.{part}.jsonl");
        return File.Exists(file) ? [.. File.ReadAllLines(file).Select(l => JsonSerializer.Deserialize<GoldenRow>(l)!)] : [];
    }

    public void Dispose()
    {
        try { Directory.Delete(_state, recursive: true); } catch (IOException) { }
    }
}
