using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Gpuckpt.Actors.Persistence;
using Gpuckpt.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>
/// What a persisted job relies on, for each journal: events and snapshots survive the death of the ActorSystem,
/// recovery starts at the snapshot, trimmed events are gone, and the read journal lists what is stored.
/// Subclasses pick the journal and declare the facts.
/// </summary>
public abstract class JournalSpecs : IAsyncLifetime
{
    /// <summary>The identifier of Gpuckpt.Actors.Serialization.HyperionSerializer.</summary>
    private const long HyperionSerializerId = 4242;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly List<ActorSystem> _systems = [];
    private readonly ITestOutputHelper _output;

    protected JournalSpecs(ITestOutputHelper output)
    {
        _output = output;
        Seed = TestSeed.Fresh(test: GetType().Name);
        Rng = new Random(Seed);
        _output.WriteLine($"seed {Seed}");
    }

    protected int Seed { get; }
    protected Random Rng { get; }

    /// <summary>The journal's configuration, the same for every system a test starts.</summary>
    protected abstract Config Journal();

    protected virtual Task Cleanup() => Task.CompletedTask;

    /// <summary>The distinct serializer ids of the stored events and snapshots of <paramref name="persistenceId"/>.</summary>
    protected abstract Task<IReadOnlyList<long>> StoredSerializerIds(string persistenceId);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var system in _systems) await system.Terminate();
        await Cleanup();
    }

    protected async Task Recovers_snapshot_and_later_events_after_the_system_dies()
    {
        var id = NewId("ledger");
        var before = Values(Rng.Next(300, 800));
        var after = Values(Rng.Next(50, 200));

        var first = Start();
        var ledger = first.ActorOf(LedgerActor.Props(id));
        await Ask<Appended>(ledger, new Append(before));
        var snapshot = await Ask<Snapshotted>(ledger, TakeSnapshot.Instance);
        Assert.True(snapshot.SequenceNr == before.Length, Because($"snapshot at {snapshot.SequenceNr}, expected {before.Length}"));
        await Ask<Appended>(ledger, new Append(after));
        await Kill(first);

        var second = Start();
        var state = await Ask<LedgerState>(second.ActorOf(LedgerActor.Props(id)), GetLedger.Instance);
        Assert.True(state.Values.SequenceEqual(before.Concat(after)),
            Because($"recovered {state.Values.Length} values, expected {before.Length + after.Length} equal ones"));
        Assert.True(state.SnapshotSequenceNr == before.Length, Because($"recovered from snapshot {state.SnapshotSequenceNr}"));
        Assert.True(state.EventsReplayed == after.Length,
            Because($"replayed {state.EventsReplayed} events, expected only the {after.Length} after the snapshot"));
        Assert.True(state.LastSequenceNr == before.Length + after.Length, Because($"last sequence nr {state.LastSequenceNr}"));

        var serializers = await StoredSerializerIds(id);
        Assert.True(serializers.SequenceEqual([HyperionSerializerId]),
            Because($"events and snapshot stored by serializers [{string.Join(", ", serializers)}], expected Hyperion's {HyperionSerializerId}"));

        var journal = await JobJournal.OpenAsync(second);
        var trimmed = await journal.EventsAsync(id, 0L, before.Length);
        Assert.True(trimmed.Count == 0, Because($"{trimmed.Count} events up to the snapshot are still in the journal"));
        var kept = await journal.EventsAsync(id, before.Length + 1L, long.MaxValue);
        Assert.True(kept.Select(e => ((ValueAdded)e.Event).Value).SequenceEqual(after),
            Because($"journal holds {kept.Count} events after the snapshot, expected the {after.Length} appended"));
    }

    protected async Task Lists_persisted_jobs_with_their_last_event()
    {
        var first = Start();
        var expected = new Dictionary<string, long[]>();
        for (var i = Rng.Next(3, 6); i > 0; i--)
        {
            var id = NewId("job");
            var values = Values(Rng.Next(1, 60));
            var ledger = first.ActorOf(LedgerActor.Props(id));
            await Ask<Appended>(ledger, new Append(values));
            if (i == 1)
            {
                // One job trimmed behind a snapshot: it must still be listed with the event after it.
                await Ask<Snapshotted>(ledger, TakeSnapshot.Instance);
                var more = Values(Rng.Next(1, 10));
                await Ask<Appended>(ledger, new Append(more));
                values = [.. values, .. more];
            }
            expected[id] = values;
        }
        await Kill(first);

        var listed = await (await JobJournal.OpenAsync(Start())).ListAsync();
        foreach (var (id, values) in expected)
        {
            var entry = listed.SingleOrDefault(e => e.PersistenceId == id);
            Assert.True(entry is not null, Because($"{id} missing from the {listed.Count} listed ids"));
            Assert.True(entry.LastSequenceNr == values.Length, Because($"{id}: last sequence nr {entry.LastSequenceNr}, expected {values.Length}"));
            Assert.True(entry.LastEvent is ValueAdded last && last.Value == values[^1],
                Because($"{id}: last event {entry.LastEvent}, expected ValueAdded({values[^1]})"));
        }
        var ours = listed.Where(e => expected.ContainsKey(e.PersistenceId)).Select(e => e.PersistenceId).ToList();
        Assert.True(ours.SequenceEqual(ours.Order(StringComparer.Ordinal)), Because("ids are not listed in order"));
    }

    protected async Task Recovery_after_100000_events_replays_only_those_after_the_snapshot()
    {
        const int count = 100_000;
        const int batch = 5_000;
        var id = NewId("bulk");
        var values = Values(count);
        var after = Values(Rng.Next(10, 100));

        var first = Start();
        var ledger = first.ActorOf(LedgerActor.Props(id));
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i += batch) await Ask<Appended>(ledger, new Append(values[i..(i + batch)]));
        var persisted = clock.Elapsed;
        await Kill(first);

        // Without a snapshot every event replays: the cost a snapshot saves.
        var second = Start();
        clock.Restart();
        ledger = second.ActorOf(LedgerActor.Props(id));
        var full = await Ask<LedgerState>(ledger, GetLedger.Instance);
        var replayedAll = clock.Elapsed;
        Assert.True(full.EventsReplayed == count && full.Values.SequenceEqual(values),
            Because($"full replay gave {full.EventsReplayed} events, expected the {count} persisted"));

        clock.Restart();
        await Ask<Snapshotted>(ledger, TakeSnapshot.Instance);
        var snapshotted = clock.Elapsed;
        await Ask<Appended>(ledger, new Append(after));
        await Kill(second);

        var third = Start();
        clock.Restart();
        var state = await Ask<LedgerState>(third.ActorOf(LedgerActor.Props(id)), GetLedger.Instance);
        var recovered = clock.Elapsed;
        _output.WriteLine($"{GetType().Name}: persist {count} events {persisted.TotalSeconds:F2} s "
            + $"({count / persisted.TotalSeconds:F0}/s), full replay {replayedAll.TotalMilliseconds:F0} ms, "
            + $"snapshot+trim {snapshotted.TotalMilliseconds:F0} ms, "
            + $"recovery from snapshot + {after.Length} events {recovered.TotalMilliseconds:F0} ms");

        Assert.True(state.EventsReplayed == after.Length,
            Because($"replayed {state.EventsReplayed} events, expected only the {after.Length} after the snapshot"));
        Assert.True(state.SnapshotSequenceNr == count, Because($"recovered from snapshot {state.SnapshotSequenceNr}"));
        Assert.True(state.Values.SequenceEqual(values.Concat(after)), Because($"recovered {state.Values.Length} values differ"));
    }

    private ActorSystem Start()
    {
        // The ledger's events are this test assembly's types: allowed here on top of the engine's own.
        var config = ConfigurationFactory.ParseString("""
                akka.actor.serialize-messages = on
                gpuckpt.serialization.allowed-assemblies = ["Gpuckpt.Actors", "Gpuckpt.Engine", "Gpuckpt.Actors.Tests"]
                """)
            .WithFallback(Journal())
            .WithFallback(EngineConfig.Load());
        var system = ActorSystem.Create("journal-spec", config);
        _systems.Add(system);
        return system;
    }

    /// <summary>The engine dies: the next system sees only what the journal and snapshot store hold.</summary>
    private async Task Kill(ActorSystem system)
    {
        await system.Terminate();
        _systems.Remove(system);
    }

    private async Task<T> Ask<T>(IActorRef actor, object message)
    {
        try
        {
            return await actor.Ask<T>(message, Timeout);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"seed {Seed}: {message.GetType().Name} to {actor.Path.Name} failed: {e.Message}");
        }
    }

    private string NewId(string kind) => $"{kind}-{Seed}-{Guid.NewGuid():N}";

    /// <summary>Random non-zero values: a lost or reordered event cannot hide behind a default.</summary>
    private long[] Values(int count)
    {
        var values = new long[count];
        for (var i = 0; i < count; i++) values[i] = Rng.NextInt64(1, long.MaxValue);
        return values;
    }

    private string Because(string what) => $"seed {Seed}: {what}";
}
