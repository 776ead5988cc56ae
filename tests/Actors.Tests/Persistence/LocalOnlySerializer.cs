using Akka.Actor;

namespace Gpuckpt.Actors.Tests.Persistence;

/// <summary>
/// For <c>akka.actor.serialize-messages = on</c> only (tests): the SQL journal sends itself WriteFinished, which holds
/// a Task and can never be serialized. Verification serializes and deserializes on the same thread, one message at a
/// time, so the object is handed over in a thread-local slot: at most one message per thread is ever held, and a
/// ticket from another thread or a later message is refused. Production configuration never binds it.
/// </summary>
public sealed class LocalOnlySerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    public const string Config = """
        akka.actor.serializers.gpuckpt-local-only = "Gpuckpt.Actors.Tests.Persistence.LocalOnlySerializer, Gpuckpt.Actors.Tests"
        akka.actor.serialization-bindings {
          "Akka.Persistence.Sql.Journal.Types.WriteFinished, Akka.Persistence.Sql" = gpuckpt-local-only
        }
        """;

    [ThreadStatic] private static object? _handed;
    [ThreadStatic] private static long _ticket;

    /// <summary>Outside Akka's reserved range (0–40), beside the Hyperion serializer's 4242.</summary>
    public override int Identifier => 4243;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        _handed = obj;
        return BitConverter.GetBytes(++_ticket);
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        if (bytes.Length != sizeof(long) || BitConverter.ToInt64(bytes) != _ticket || _handed is not { } obj)
            throw new System.Runtime.Serialization.SerializationException("a local-only message cannot be read on another thread or in another process");
        _handed = null;
        return obj;
    }
}
