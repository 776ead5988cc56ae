using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.TestKit;

namespace Gpuckpt.Actors.Tests.Jobs;

/// <summary>Akka's TestJournal made to fail the write of one event type, as a full disk or a lost database would.</summary>
public static class JournalFaults
{
    /// <summary>HOCON that makes the TestJournal the default; its control messages never leave the process.</summary>
    public const string Config = """
        akka.persistence.journal.plugin = "akka.persistence.journal.test"
        akka.persistence.journal.test {
          class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        akka.actor.serialization-bindings {
          "Akka.Persistence.TestKit.TestJournal+UseWriteInterceptor, Akka.Persistence.TestKit" = gpuckpt-in-process
          "Akka.Persistence.TestKit.TestJournal+Ack, Akka.Persistence.TestKit" = gpuckpt-in-process
        }
        """;

    /// <summary>From now on, a write holding an event of type <typeparamref name="TEvent"/> fails with an I/O error naming it.</summary>
    public static Task FailWritesOf<TEvent>(ActorSystem system) =>
        TestJournal.FromRef(Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null)).OnWrite.SetInterceptorAsync(new FailOn(typeof(TEvent)));

    private sealed class FailOn(Type type) : IJournalInterceptor
    {
        public Task InterceptAsync(IPersistentRepresentation message) =>
            message.Payload.GetType() == type ? Task.FromException(new IOException($"journal disk failed writing {type.Name}")) : Task.CompletedTask;
    }
}
