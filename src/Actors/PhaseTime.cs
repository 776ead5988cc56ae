using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>How long one phase of a job took (pause, capture, copy, commit, unpause; verify, device state, passes, contents, resume).</summary>
public sealed record PhaseTime(string Phase, double Seconds);
