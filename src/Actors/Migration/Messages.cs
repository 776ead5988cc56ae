using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

/// <summary>The migration protocol: the CLI and the coordinator, the coordinator and the target node.</summary>
public interface IMigrationMessage;

/// <summary>Move process <paramref name="Pid"/> from node <paramref name="From"/> to node <paramref name="To"/> (names or HOST:PORT).</summary>
public sealed record MigrateRequest(uint Pid, string From, string To) : IMigrationMessage;

/// <summary>Where a running migration stands, for a progress bar.</summary>
public sealed record MigrationProgress(string MigrationId, string Step, long BytesSent, long BytesTotal, long BytesResent) : IMigrationMessage;

public sealed record MigrationSummary(
    string MigrationId,
    uint SourcePid,
    string From,
    string To,
    uint TargetPid,
    long ImageBytes,
    long BytesSent,
    long BytesResent,
    int LinkBreaks,
    double Seconds,
    double TransferSeconds,
    double PauseSeconds,
    IReadOnlyDictionary<string, string> GpuMap,
    int TargetRestarts = 0,
    long BytesKept = 0);

public sealed record MigrationCompleted(MigrationSummary Summary) : IMigrationMessage;

/// <summary>
/// The migration ended before its commit: <paramref name="Node"/> and <paramref name="Step"/> say where it failed; the
/// source process runs again (<paramref name="SourceResumed"/>) or was never paused.
/// </summary>
public sealed record MigrationFailed(string MigrationId, uint Pid, string Node, string Step, string Reason, bool SourceResumed) : IMigrationMessage;

// ---- coordinator → target ------------------------------------------------------------------------------------------

/// <summary>Be the target of a migration: answer <see cref="TargetPrepared"/>.</summary>
public sealed record PrepareTarget(string MigrationId, string From, IActorRef Coordinator) : IMigrationMessage;

public sealed record TargetPrepared(string MigrationId, IActorRef Target) : IMigrationMessage;

/// <summary>The image's identity: the target creates its copy with it; answered with <see cref="ImageBegun"/>.</summary>
public sealed record BeginImage(string MigrationId, string ImageId, ImageSource Source, IReadOnlyList<GpuNode> Topology) : IMigrationMessage;

/// <summary>
/// The target's copy exists. <paramref name="DataPort"/> and <paramref name="DataToken"/> (when the target's node has a
/// data port) say where to send frames instead of through remoting, and the token that admits them there.
/// </summary>
public sealed record ImageBegun(string MigrationId, int DataPort = 0, string? DataToken = null) : IMigrationMessage;

/// <summary>The target wrote frame <paramref name="Seq"/> (its checksum held).</summary>
public sealed record FrameAck(long Seq) : IMigrationMessage;

/// <summary>Frame <paramref name="Seq"/> failed its check on arrival: send it again.</summary>
public sealed record FrameRejected(long Seq, string Reason) : IMigrationMessage;

/// <summary>The answer to a check frame: the restarted target does not hold frame <paramref name="Seq"/> any more; send its bytes.</summary>
public sealed record FrameMissing(long Seq) : IMigrationMessage;

/// <summary>
/// Every frame is confirmed: commit the copy with these files and links; answered with <see cref="ImageSealed"/>. With
/// the cluster's TLS, <paramref name="Seal"/> is the source's signature over them, checked against the copy first.
/// </summary>
public sealed record SealImage(string MigrationId, IReadOnlyList<SealedFile> Files, IReadOnlyList<ImageLink> Links, Gpuckpt.Engine.Trust.SourceSeal? Seal = null) : IMigrationMessage;

public sealed record SealedFile(string Name, long Size);

public sealed record ImageSealed(string MigrationId, long Bytes) : IMigrationMessage;

/// <summary>Restore the copy up to, not including, RESUME; answered with <see cref="TargetHeld"/>.</summary>
public sealed record StartTargetRestore(string MigrationId) : IMigrationMessage;

public sealed record TargetHeld(string MigrationId, uint Pid, IReadOnlyDictionary<string, string> GpuMap) : IMigrationMessage;

/// <summary>The commit is recorded: RESUME the held process; answered with <see cref="TargetResumed"/>.</summary>
public sealed record CommitTarget(string MigrationId) : IMigrationMessage;

public sealed record TargetResumed(string MigrationId, uint Pid) : IMigrationMessage;

/// <summary>The migration rolls back: discard everything of it on the target; answered with <see cref="TargetAborted"/>.</summary>
public sealed record AbortTarget(string MigrationId, string Reason) : IMigrationMessage;

public sealed record TargetAborted(string MigrationId) : IMigrationMessage;

/// <summary>The target cannot go on: <paramref name="Step"/> failed there.</summary>
public sealed record TargetFailed(string MigrationId, string Node, string Step, string Reason) : IMigrationMessage;

/// <summary>
/// A target engine that restarted asks the coordinator what was decided; answered with <see cref="MigrationDecision"/>,
/// or, when the target was still receiving the image (<paramref name="CanContinue"/>) and the coordinator waits for it,
/// with <see cref="TransferResumes"/>.
/// </summary>
public sealed record QueryMigration(string MigrationId, string Node, string Reason, bool CanContinue = false) : IMigrationMessage;

/// <summary>The transfer goes on to the restarted target: the frames it confirmed before are checked, not sent again.</summary>
public sealed record TransferResumes(string MigrationId) : IMigrationMessage;

/// <summary>Committed: the target goes forward. Otherwise it discards what it holds.</summary>
public sealed record MigrationDecision(string MigrationId, bool Committed) : IMigrationMessage;

/// <summary>Asks a node's migrations actor for the migrations it runs, as <see cref="Cluster.NodeJob"/>s.</summary>
public sealed class ListMigrations : IMigrationMessage
{
    public static readonly ListMigrations Instance = new();
    private ListMigrations() { }
}

/// <summary>The node's migrations and arrived processes; <paramref name="Leaving"/>: the node takes no new migrations.</summary>
public sealed record MigrationsList(IReadOnlyList<Cluster.NodeJob> Jobs, bool Leaving) : IMigrationMessage;

/// <summary>The node is leaving: refuse new migrations, answer <see cref="MigrationsDrained"/> once every running one has ended.</summary>
public sealed class DrainMigrations : IMigrationMessage
{
    public static readonly DrainMigrations Instance = new();
    private DrainMigrations() { }
}

public sealed class MigrationsDrained : IMigrationMessage
{
    public static readonly MigrationsDrained Instance = new();
    private MigrationsDrained() { }
}

// ---- coordinator ↔ its transfer sender (local) ---------------------------------------------------------------------

/// <summary>Pieces of the source image to stream (chunks as they land; the rest once the image is committed).</summary>
internal sealed record SendPieces(IReadOnlyList<Gpuckpt.Engine.Transfer.TransferPiece> Pieces) : INoSerializationVerificationNeeded;

/// <summary>Every piece is announced: once all are confirmed, seal the target's copy with these files and links.</summary>
internal sealed record SealWhenDone(IReadOnlyList<SealedFile> Files, IReadOnlyList<ImageLink> Links, Gpuckpt.Engine.Trust.SourceSeal? Seal) : INoSerializationVerificationNeeded;

internal sealed record TransferProgress(long BytesConfirmed, long BytesAnnounced, long BytesResent) : INoSerializationVerificationNeeded;

internal sealed record TransferDone(long ImageBytes, long BytesSent, long BytesResent, int LinkBreaks, int Retries, double Seconds,
    int TargetRestarts, long BytesKept) : INoSerializationVerificationNeeded;

internal sealed record TransferFailed(string Reason, long BytesConfirmed, long BytesResent) : INoSerializationVerificationNeeded;

/// <summary>The target stopped acknowledging within the retry budget: the sender holds everything until told where to send.</summary>
internal sealed record TargetSilent(string Reason) : INoSerializationVerificationNeeded;

/// <summary>The target is gone (its engine died): hold everything, spend no retries, until <see cref="Retarget"/>.</summary>
internal sealed class TargetLost : INoSerializationVerificationNeeded
{
    public static readonly TargetLost Instance = new();
    private TargetLost() { }
}

/// <summary>The target's engine restarted as <paramref name="Target"/>: begin the copy there again, check what it confirmed, send the rest.</summary>
internal sealed record Retarget(IActorRef Target) : INoSerializationVerificationNeeded;

/// <summary>
/// A migrated process now runs on this node (the target tells its node, for `cluster status`); answered with
/// <see cref="ArrivalRecorded"/> once the node's list of arrived processes holds it on disk.
/// </summary>
internal sealed record ProcessArrived(string MigrationId, uint Pid, string From) : INoSerializationVerificationNeeded;

internal sealed class ArrivalRecorded : INoSerializationVerificationNeeded
{
    public static readonly ArrivalRecorded Instance = new();
    private ArrivalRecorded() { }
}
