namespace Gpuckpt.Actors.Migration;

/// <summary>Before any commit something failed: from here the migration only rolls back (UNPAUSE the source).</summary>
public sealed record MigrationAborting(string Node, string Step, string Reason) : IMigrationEvent;
