namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// A live checkpoint's running rounds are over (their pause was undone): next comes the final pause, which copies what
/// the process wrote after write-clock tick <paramref name="Since"/> and keeps every other chunk the rounds wrote.
/// </summary>
public sealed record LiveCopyEnded(ulong Since) : ICheckpointEvent;
