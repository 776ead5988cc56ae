namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// <paramref name="Request"/>, its page files written with each chunk packed with LZ4 where that saves an eighth of it
/// or more (<c>checkpoint --compress</c>; image format 4, see <see cref="Engine.Images.PackedSegment"/>).
/// </summary>
public sealed record PackedCheckpointRequest(CheckpointRequest Request) : ICheckpointMessage;
