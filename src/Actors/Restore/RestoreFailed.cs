using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>
/// The restore failed; what it had created on the device was rolled back (problems doing so are in the reason).
/// <paramref name="EndedBy"/> is "aborted" or "forgotten" when a user ended it (`gpuckpt abort`, `gpuckpt forget`).
/// </summary>
public sealed record RestoreFailed(string ImagesDir, string Reason, string? EndedBy = null) : IRestoreMessage;
