namespace Gpuckpt.Actors.Tests.Golden;

/// <summary>One stored event or snapshot of a golden journal as the engine that wrote it read it back: its type's name and its <see cref="EventText"/>.</summary>
public sealed record GoldenRow(string PersistenceId, long SequenceNr, string Type, string Text);
