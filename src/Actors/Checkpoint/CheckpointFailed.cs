using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>
/// The checkpoint failed; the image is marked failed and the process was unpaused (when it had been paused).
/// <paramref name="EndedBy"/> is "aborted" or "forgotten" when a user ended it (`gpuckpt abort`, `gpuckpt forget`).
/// </summary>
public sealed record CheckpointFailed(uint Pid, string Reason, bool Unpaused, string? EndedBy = null) : ICheckpointMessage;
