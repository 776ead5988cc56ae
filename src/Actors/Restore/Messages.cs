using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

/// <summary>The restore protocol: what a client asks and what it is told.</summary>
public interface IRestoreMessage;

/// <summary>
/// Restore the image in <paramref name="ImagesDir"/> into a new process on this node's devices. With
/// <paramref name="HoldBeforeResume"/> the job stops short of RESUME, answers <see cref="RestoreHeld"/> and waits for
/// <see cref="ReleaseRestore"/> (a migration's commit decides); resumed from the journal before it was held, it
/// discards what it built and fails instead of building again.
/// </summary>
public sealed record RestoreRequest(string ImagesDir, string? JobId = null, bool HoldBeforeResume = false) : IRestoreMessage;

/// <summary>Everything but RESUME is done; the process waits for <see cref="ReleaseRestore"/>.</summary>
public sealed record RestoreHeld(RestoreSummary Summary) : IRestoreMessage;

/// <summary>A held restore goes on: RESUME (<paramref name="Resume"/>) or discard the process, naming why.</summary>
public sealed record ReleaseRestore(bool Resume, string Reason) : IRestoreMessage;

public sealed record RestoreSummary(
    string JobId,
    uint Pid,
    string ImagesDir,
    long Bytes,
    int Bos,
    int Devices,
    int RenderPasses,
    double Seconds,
    IReadOnlyDictionary<string, string> GpuMap,
    long ContentBytesRead = 0,
    long MetadataBytesRead = 0,
    IReadOnlyList<PhaseTime>? Phases = null)
{
    /// <summary>Content bytes read from the image per content byte restored: 1 when each is read once (less where zeros stayed holes).</summary>
    public double ReadsPerContentByte => Bytes > 0 ? (double)ContentBytesRead / Bytes : 0;

    public double GigabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e9 : 0;
}

public sealed record RestoreCompleted(RestoreSummary Summary) : IRestoreMessage;

/// <summary>
/// The restore failed; what it had created on the device was rolled back (problems doing so are in the reason).
/// <paramref name="EndedBy"/> is "aborted" or "forgotten" when a user ended it (`gpuckpt abort`, `gpuckpt forget`).
/// </summary>
public sealed record RestoreFailed(string ImagesDir, string Reason, string? EndedBy = null) : IRestoreMessage;

internal sealed record Planned(RestorePlan Plan) : INoSerializationVerificationNeeded;
internal sealed record TargetReady(RestoreSession Session) : INoSerializationVerificationNeeded;
internal sealed record KfdRestored : INoSerializationVerificationNeeded;
internal sealed record ContentsOpened(IReadOnlyList<DeviceContents> Contents, IReadOnlyList<Engine.Images.PageFileReader[]> Sources) : INoSerializationVerificationNeeded;
internal sealed record Reattached(RestoreSession Session) : INoSerializationVerificationNeeded;
internal sealed record Discarded(string? Problem) : INoSerializationVerificationNeeded;
internal sealed record ResumeDone(bool TookEffect) : INoSerializationVerificationNeeded;
internal sealed record RolledBack(string Reason) : INoSerializationVerificationNeeded;

/// <summary>No restore job with that id was ever started here.</summary>
public sealed record RestoreJobUnknown(string JobId) : IRestoreMessage;
