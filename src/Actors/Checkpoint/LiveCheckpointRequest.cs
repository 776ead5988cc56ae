namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// <paramref name="Request"/>, copied while the process runs (a live migration's pre-copy): a short pause to list its
/// BOs, rounds of copying while it runs, each told to the client as <see cref="LiveRoundCopied"/> and started by its
/// <see cref="LiveRoundNext"/>, then one last pause that copies only what was written since the last round began.
/// </summary>
public sealed record LiveCheckpointRequest(CheckpointRequest Request) : ICheckpointMessage;
