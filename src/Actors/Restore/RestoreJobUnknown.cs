using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>No restore job with that id was ever started here.</summary>
public sealed record RestoreJobUnknown(string JobId) : IRestoreMessage;
