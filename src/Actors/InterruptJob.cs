using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>
/// The user interrupted the command running job <paramref name="JobId"/> (<paramref name="Signal"/>: SIGINT or SIGTERM): it
/// stops short of its end, undoes its pause, and stays in the journal, interrupted, for `resume` or `abort`.
/// </summary>
public sealed record InterruptJob(string JobId, string Signal);
