namespace Gpuckpt.Actors;

/// <summary>The ids of the jobs running on this engine now.</summary>
public sealed record RunningJobs(IReadOnlyList<string> JobIds) : IJobsMessage;
