using Akka.Actor;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// For Akka's local protocol messages that must never leave the process (journal replies, recovery permits, the SQL
/// journal's WriteFinished, which holds a Task), so that Hyperion's allow-list names only the project's types. They
/// cross a serializer only when <c>akka.actor.serialize-messages = on</c> (tests), which serializes and deserializes
/// on the same thread at once: the object is handed over in a thread-local slot, so at most one message per thread is
/// held, never a table of them. A ticket read on another thread, in another process or twice is refused.
/// </summary>
public sealed class InProcessSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    [ThreadStatic] private static object? _handed;
    [ThreadStatic] private static long _ticket;

    /// <summary>Outside Akka's reserved range (0–40), beside the Hyperion serializer's 4242.</summary>
    public override int Identifier => 4243;

    public override bool IncludeManifest => false;

    /// <summary>Whether this thread still holds a message (a spec checks that a round trip leaves nothing behind).</summary>
    public static bool Holding => _handed is not null;

    public override byte[] ToBinary(object obj)
    {
        _handed = obj;
        return BitConverter.GetBytes(++_ticket);
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        if (bytes.Length != sizeof(long) || BitConverter.ToInt64(bytes) != _ticket || _handed is not { } obj)
            throw new System.Runtime.Serialization.SerializationException(
                $"a {type?.Name ?? "local"} message can be read back only on the thread that wrote it, once: it never leaves the process");
        _handed = null;
        return obj;
    }
}
