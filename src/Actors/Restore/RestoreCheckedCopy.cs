namespace Gpuckpt.Actors.Restore;

/// <summary>
/// <paramref name="Request"/>, of a copy whose files its owner hashed and checked against a signature moments ago (a
/// migration target's, against the source's seal): while its manifest still hashes to <paramref name="ManifestSha256"/>,
/// the restore does not read it whole a second time before it starts; contents are checked as they stream, as always.
/// </summary>
/// <param name="ThroughPageCache">
/// How the owner wrote the copy, so that the restore reads it the same way: a live migration's target through the page
/// cache, a stop-and-copy one's with O_DIRECT. Null: the engine's rule (O_DIRECT, <c>gpuckpt.copy.direct-io</c>, unless
/// the restore is held).
/// </param>
public sealed record RestoreCheckedCopy(RestoreRequest Request, string ManifestSha256, bool? ThroughPageCache = null) : IRestoreMessage;
