using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>A job tells its parent why it is about to die (a handler threw, the journal failed).</summary>
public sealed record JobCrashed(string JobId, string Reason);
