namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// A running round of a live checkpoint is in the image: it copied <paramref name="Bytes"/> in <paramref name="Seconds"/>,
/// and the process has written <paramref name="DirtyBytes"/> since the round began (what the next round would copy; -1
/// where the driver keeps no dirty bits). The job waits for <see cref="LiveRoundNext"/>.
/// </summary>
public sealed record LiveRoundCopied(string JobId, int Round, long Bytes, double Seconds, long DirtyBytes) : ICheckpointMessage;
