namespace Gpuckpt.Actors;

/// <summary>The node is leaving: refuse new jobs, answer <see cref="JobsDrained"/> once every running job has ended.</summary>
public sealed class DrainJobs : IJobsMessage
{
    public static readonly DrainJobs Instance = new();
    private DrainJobs() { }
}
