using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>An in-memory journal whose write of one event type fails, as a full disk or a lost database would.</summary>
public sealed class FailingJournal(Config config) : MemoryJournal
{
    public const string Path = "akka.persistence.journal.failing";

    private readonly string _failOn = config.GetString("fail-on");

    /// <summary>HOCON that makes the failing journal the default, failing on events of type <paramref name="eventType"/>.</summary>
    public static string Config(string eventType) => $$"""
        akka.persistence.journal.plugin = "{{Path}}"
        {{Path}} {
          class = "{{typeof(FailingJournal).AssemblyQualifiedName}}"
          plugin-dispatcher = "akka.actor.default-dispatcher"
          fail-on = "{{eventType}}"
        }
        """;

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        var bad = writes.SelectMany(w => (IEnumerable<IPersistentRepresentation>)w.Payload).FirstOrDefault(p => p.Payload.GetType().Name == _failOn);
        return bad is null
            ? base.WriteMessagesAsync(writes, cancellationToken)
            : Task.FromException<IImmutableList<Exception?>>(new IOException($"journal disk failed writing {_failOn}"));
    }
}
