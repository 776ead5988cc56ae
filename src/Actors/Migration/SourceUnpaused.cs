namespace Gpuckpt.Actors.Migration;

public sealed record SourceUnpaused(bool TookEffect) : IMigrationEvent;
