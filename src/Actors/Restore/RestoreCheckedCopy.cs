namespace Gpuckpt.Actors.Restore;

/// <summary>
/// <paramref name="Request"/>, of a copy whose files its owner hashed and checked against a signature moments ago (a
/// migration target's, against the source's seal): while its manifest still hashes to <paramref name="ManifestSha256"/>,
/// the restore does not read it whole a second time before it starts; contents are checked as they stream, as always.
/// </summary>
public sealed record RestoreCheckedCopy(RestoreRequest Request, string ManifestSha256) : IRestoreMessage;
