using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Job <paramref name="JobId"/> entered <paramref name="Phase"/>; <paramref name="Done"/> are the phases behind it.</summary>
public sealed record JobPhaseStarted(string JobId, string Phase, IReadOnlyList<PhaseTime> Done) : IJobProgress;
