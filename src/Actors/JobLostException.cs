namespace Gpuckpt.Actors;

/// <summary>A job's answer will not come: the actor waited on stopped or went silent. The message names the job and what to run next.</summary>
public sealed class JobLostException(string message) : Exception(message);
