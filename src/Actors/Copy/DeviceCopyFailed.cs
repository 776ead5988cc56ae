using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>The device stopped at a failure (naming the BO, the chunk and the errno); no chunk of it is still in flight.</summary>
public sealed record DeviceCopyFailed(string Device, string Reason) : ICopyMessage;
