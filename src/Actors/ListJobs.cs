namespace Gpuckpt.Actors;

/// <summary>Asks for <see cref="RunningJobs"/>.</summary>
public sealed class ListJobs : IJobsMessage
{
    public static readonly ListJobs Instance = new();
    private ListJobs() { }
}
