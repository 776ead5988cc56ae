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
/// <param name="Live">
/// Copy while the process runs (a live migration's pre-copy): a short pause to list its BOs, rounds of copying while it
/// runs, each told to the client as <see cref="LiveRoundCopied"/> and started by its <see cref="LiveRoundNext"/>, then one
/// last pause that copies only what was written since the last round began, and commits.
/// </param>
public sealed record CheckpointRequest(uint Pid, string ImagesDir, bool LeaveRunning, string? JobId = null, bool ReportChunks = false, string? Parent = null,
    bool Live = false) : ICheckpointMessage;
