using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

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
