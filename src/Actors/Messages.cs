namespace Gpuckpt.Actors;

/// <summary>What a node asks its <see cref="JobsActor"/> about the jobs themselves.</summary>
public interface IJobsMessage;

/// <summary>Asks for <see cref="RunningJobs"/>.</summary>
public sealed class ListJobs : IJobsMessage
{
    public static readonly ListJobs Instance = new();
    private ListJobs() { }
}

/// <summary>The ids of the jobs running on this engine now.</summary>
public sealed record RunningJobs(IReadOnlyList<string> JobIds) : IJobsMessage;

/// <summary>The node is leaving: refuse new jobs, answer <see cref="JobsDrained"/> once every running job has ended.</summary>
public sealed class DrainJobs : IJobsMessage
{
    public static readonly DrainJobs Instance = new();
    private DrainJobs() { }
}

public sealed class JobsDrained : IJobsMessage
{
    public static readonly JobsDrained Instance = new();
    private JobsDrained() { }
}
