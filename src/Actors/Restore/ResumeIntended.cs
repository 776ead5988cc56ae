namespace Gpuckpt.Actors.Restore;

/// <summary>Recorded before RESUME is issued, so a restart knows it may have been issued already.</summary>
public sealed record ResumeIntended(uint Pid, RestoreSummary Summary) : IRestoreEvent;
