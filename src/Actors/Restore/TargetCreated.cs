namespace Gpuckpt.Actors.Restore;

/// <summary>A process to restore into exists on the device (to be discarded if the restore has to start over).</summary>
public sealed record TargetCreated(uint Pid) : IRestoreEvent;
