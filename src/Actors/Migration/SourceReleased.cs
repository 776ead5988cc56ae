namespace Gpuckpt.Actors.Migration;

/// <summary>The target resumed; the source process was killed.</summary>
public sealed record SourceReleased(uint TargetPid) : IMigrationEvent;
