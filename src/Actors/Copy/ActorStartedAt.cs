using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Copy;

/// <summary>A job, device or BO actor started (published only with gpuckpt.copy.publish-actor-tree = on).</summary>
public sealed record ActorStartedAt(string Path) : ICopyMessage;
