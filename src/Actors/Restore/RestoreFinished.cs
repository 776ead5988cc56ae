namespace Gpuckpt.Actors.Restore;

public sealed record RestoreFinished(IRestoreMessage Outcome) : IRestoreEvent;
