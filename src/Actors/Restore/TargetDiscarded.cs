namespace Gpuckpt.Actors.Restore;

public sealed record TargetDiscarded(uint Pid) : IRestoreEvent;
