namespace Gpuckpt.Actors.Migration;

/// <summary>What a migration's coordinator journals: its commit point above all.</summary>
public interface IMigrationEvent;
