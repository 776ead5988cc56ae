using System.Collections.Concurrent;
using Akka.Actor;

namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// "Serializes" messages that never leave the process by parking them in a table and writing their ticket.
/// The SQL journal sends itself WriteFinished, which holds a Task; with <c>akka.actor.serialize-messages = on</c>
/// Hyperion would refuse it and the message would be dropped. The journal files bind that type here.
/// </summary>
public sealed class InProcessSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    private static readonly ConcurrentDictionary<long, object> Parked = new();
    private static long _nextTicket;

    /// <summary>Outside Akka's reserved range (0–40), beside the Hyperion serializer's 4242.</summary>
    public override int Identifier => 4243;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        var ticket = Interlocked.Increment(ref _nextTicket);
        Parked[ticket] = obj;
        return BitConverter.GetBytes(ticket);
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        if (bytes.Length != sizeof(long))
            throw new System.Runtime.Serialization.SerializationException(
                $"in-process message ticket has {bytes.Length} bytes, expected {sizeof(long)}");
        var ticket = BitConverter.ToInt64(bytes);
        return Parked.TryRemove(ticket, out var obj)
            ? obj
            : throw new System.Runtime.Serialization.SerializationException(
                $"in-process message {ticket} unknown: such messages cannot cross processes");
    }
}
