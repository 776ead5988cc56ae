namespace Gpuckpt.Actors.Migration;

/// <summary>The dry check passed; the source will be paused. <paramref name="TargetNode"/> is the target's address.</summary>
public sealed record MigrationStarted(string MigrationId, MigrateRequest Request, string TargetNode, string CheckpointJobId) : IMigrationEvent;
