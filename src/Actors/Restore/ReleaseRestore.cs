using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>A held restore goes on: RESUME (<paramref name="Resume"/>) or discard the process, naming why.</summary>
public sealed record ReleaseRestore(bool Resume, string Reason) : IRestoreMessage;
