using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// The checkpoint was interrupted (<paramref name="Signal"/>) before its image was committed: its pause was undone
/// (<paramref name="Unpaused"/> when it had paused), and the job stays unfinished for `gpuckpt resume` or `gpuckpt abort`.
/// </summary>
public sealed record CheckpointInterruptedReply(string JobId, uint Pid, string Signal, bool Unpaused) : ICheckpointMessage;
