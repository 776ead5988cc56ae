namespace Gpuckpt.Actors;

public sealed class JobsDrained : IJobsMessage
{
    public static readonly JobsDrained Instance = new();
    private JobsDrained() { }
}
