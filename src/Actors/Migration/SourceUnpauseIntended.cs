namespace Gpuckpt.Actors.Migration;

public sealed record SourceUnpauseIntended : IMigrationEvent;
