using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Take the journalled job <paramref name="JobId"/> up again and do <paramref name="Control"/> with it.</summary>
public sealed record ControlJob(string JobId, JobControl Control);
