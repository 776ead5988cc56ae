namespace Gpuckpt.Actors.Restore;

/// <summary>KFD RESTORE and every render-node BO are done: a restarted job only has contents left to write.</summary>
public sealed record DeviceStateDone(uint Pid, IReadOnlyList<ulong> RestoredOffsets, int RenderPasses) : IRestoreEvent;
