namespace Gpuckpt.Actors;

/// <summary>What a node asks its <see cref="JobsActor"/> about the jobs themselves.</summary>
public interface IJobsMessage;
