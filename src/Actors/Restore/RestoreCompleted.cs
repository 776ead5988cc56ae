using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

public sealed record RestoreCompleted(RestoreSummary Summary) : IRestoreMessage;
