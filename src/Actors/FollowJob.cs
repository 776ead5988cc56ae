using Akka.Actor;

namespace Gpuckpt.Actors;

/// <summary>Tell the sender <see cref="JobFollowed"/> when job <paramref name="JobId"/> starts (or at once, if it runs).</summary>
public sealed record FollowJob(string JobId);
