namespace Gpuckpt.Actors.Migration;

/// <summary>This node is the target of <paramref name="MigrationId"/>; the coordinator runs on <paramref name="CoordinatorNode"/> (its address).</summary>
public sealed record TargetStarted(string MigrationId, string From, string CoordinatorNode) : ITargetEvent;
