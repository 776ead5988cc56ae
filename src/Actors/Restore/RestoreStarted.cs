namespace Gpuckpt.Actors.Restore;

public sealed record RestoreStarted(string JobId, RestoreRequest Request, string Driver) : IRestoreEvent;
