using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>Continue an unfinished job after the engine was restarted.</summary>
public sealed record ResumeJob(string JobId) : ICheckpointMessage;
