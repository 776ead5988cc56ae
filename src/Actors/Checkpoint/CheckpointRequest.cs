using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// Checkpoint process <paramref name="Pid"/> into <paramref name="ImagesDir"/>. The process stays paused afterwards,
/// holding exactly the state in the image (ready to migrate); <paramref name="LeaveRunning"/> unpauses it after the commit.
/// With <paramref name="ReportChunks"/> the client is also told <see cref="ImageChunkWritten"/> for every chunk as it
/// lands in the image (a migration streams them on while the rest is still being copied).
/// </summary>
/// <param name="Parent">An earlier image of the process: chunks equal to its own are referenced there, not written (an incremental image).</param>
/// <remarks>Journalled inside <see cref="CheckpointStarted"/>: its shape is what journals hold (a live checkpoint is asked for with <see cref="LiveCheckpointRequest"/>).</remarks>
public sealed record CheckpointRequest(uint Pid, string ImagesDir, bool LeaveRunning, string? JobId = null, bool ReportChunks = false, string? Parent = null) : ICheckpointMessage;
