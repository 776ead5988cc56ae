namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// The client's answer to <see cref="LiveRoundCopied"/>: another running round, the final, paused one, or none: the job
/// fails with <paramref name="Abandon"/> (the process runs on) and its client has no use for the image.
/// </summary>
public sealed record LiveRoundNext(bool Final, string? Abandon = null) : ICheckpointMessage;
