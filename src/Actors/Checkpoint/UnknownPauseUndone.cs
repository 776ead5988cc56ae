namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// A PROCESS_INFO intended by a killed engine, with no answer journalled, is settled: UNPAUSE undid it
/// (<paramref name="WasPaused"/>) or found the process not paused. No pause is outstanding; the next is a fresh one.
/// </summary>
public sealed record UnknownPauseUndone(bool WasPaused) : ICheckpointEvent;
