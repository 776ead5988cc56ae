using Akka.Actor;

namespace Gpuckpt.Actors.Migration;

/// <summary>To a migration's target: its data link carried bytes that were changed in flight (TLS refused a record).</summary>
public sealed record LinkTampered(string Reason) : INoSerializationVerificationNeeded;
