namespace Gpuckpt.Actors.Restore;

public sealed record ProcessResumed(uint Pid) : IRestoreEvent;
