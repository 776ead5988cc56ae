using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>The restore protocol: what a client asks and what it is told.</summary>
public interface IRestoreMessage;
