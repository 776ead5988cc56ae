namespace Gpuckpt.Actors.Migration;

public sealed record MigrationFinished(IMigrationMessage Outcome) : IMigrationEvent;
