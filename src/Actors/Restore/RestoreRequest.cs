using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>
/// Restore the image in <paramref name="ImagesDir"/> into a new process on this node's devices. With
/// <paramref name="HoldBeforeResume"/> the job stops short of RESUME, answers <see cref="RestoreHeld"/> and waits for
/// <see cref="ReleaseRestore"/> (a migration's commit decides); resumed from the journal before it was held, it
/// discards what it built and fails instead of building again.
/// </summary>
public sealed record RestoreRequest(string ImagesDir, string? JobId = null, bool HoldBeforeResume = false) : IRestoreMessage;
