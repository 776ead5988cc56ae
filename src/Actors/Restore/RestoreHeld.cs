using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>Everything but RESUME is done; the process waits for <see cref="ReleaseRestore"/>.</summary>
public sealed record RestoreHeld(RestoreSummary Summary) : IRestoreMessage;
