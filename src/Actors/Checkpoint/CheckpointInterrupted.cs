namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// The user interrupted the job (<paramref name="Signal"/>) before the commit and its pause, if any, was undone: nothing is
/// outstanding, the chunks copied under that pause are stale, and a resume pauses and copies afresh.
/// </summary>
public sealed record CheckpointInterrupted(string Signal) : ICheckpointEvent;
