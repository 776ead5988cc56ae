namespace Gpuckpt.Actors.Migration;

/// <summary>The coordinator's commit reached this node: from here the target only goes forward.</summary>
public sealed record TargetCommitSeen : ITargetEvent;
