namespace Gpuckpt.Actors.Migration;

/// <summary>The held restore of the copy runs as this job.</summary>
public sealed record TargetRestoreStarted(string RestoreJobId) : ITargetEvent;
