using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>The checkpoint protocol: what a client asks and what it is told.</summary>
public interface ICheckpointMessage;

/// <summary>
/// Checkpoint process <paramref name="Pid"/> into <paramref name="ImagesDir"/>. The process stays paused afterwards,
/// holding exactly the state in the image (ready to migrate); <paramref name="LeaveRunning"/> unpauses it after the commit.
/// With <paramref name="ReportChunks"/> the client is also told <see cref="ImageChunkWritten"/> for every chunk as it
/// lands in the image (a migration streams them on while the rest is still being copied).
/// </summary>
/// <param name="Parent">An earlier image of the process: chunks equal to its own are referenced there, not written (an incremental image).</param>
public sealed record CheckpointRequest(uint Pid, string ImagesDir, bool LeaveRunning, string? JobId = null, bool ReportChunks = false, string? Parent = null) : ICheckpointMessage;

/// <summary>
/// A chunk is in the image: payload bytes [Offset, Offset+Length) of page file <paramref name="FileName"/> (whose payload
/// is <paramref name="FileLength"/> bytes) hash to <paramref name="Checksum"/>.
/// </summary>
public sealed record ImageChunkWritten(string FileName, long FileLength, long Offset, int Length, ulong Checksum) : ICheckpointMessage;

public sealed record CheckpointSummary(
    string JobId,
    uint Pid,
    string ImagesDir,
    string ImageId,
    long Bytes,
    int Bos,
    int Devices,
    double Seconds,
    double PauseSeconds,
    bool LeftPaused,
    double RecoverySeconds = 0,
    IReadOnlyList<PhaseTime>? Phases = null,
    long ReferencedBytes = 0)
{
    public double GigabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e9 : 0;

    /// <summary>Content bytes the image holds itself: all of them, but for those an incremental image references in its parent.</summary>
    public long WrittenBytes => Bytes - ReferencedBytes;
}

public sealed record CheckpointCompleted(CheckpointSummary Summary) : ICheckpointMessage;

/// <summary>
/// The checkpoint failed; the image is marked failed and the process was unpaused (when it had been paused).
/// <paramref name="EndedBy"/> is "aborted" or "forgotten" when a user ended it (`gpuckpt abort`, `gpuckpt forget`).
/// </summary>
public sealed record CheckpointFailed(uint Pid, string Reason, bool Unpaused, string? EndedBy = null) : ICheckpointMessage;

/// <summary>
/// The checkpoint was interrupted (<paramref name="Signal"/>) before its image was committed: its pause was undone
/// (<paramref name="Unpaused"/> when it had paused), and the job stays unfinished for `gpuckpt resume` or `gpuckpt abort`.
/// </summary>
public sealed record CheckpointInterruptedReply(string JobId, uint Pid, string Signal, bool Unpaused) : ICheckpointMessage;

// Results of the supervisor's own tasks: they carry live driver objects and never leave the process.
internal sealed record Paused(IKfdFile Kfd, KfdProcessInfo Info, ImageWriter Writer) : INoSerializationVerificationNeeded, IDisposable
{
    /// <summary>A pause that arrives after its step was given up on closes what it opened.</summary>
    public void Dispose()
    {
        Writer.Dispose();
        Kfd.Dispose();
    }
}
/// <param name="Remaining">Per device, the indexes of the chunks still to copy (those not adopted from before a crash).</param>
internal sealed record Captured(CapturedProcess Process, IReadOnlyDictionary<string, PageFile[]> Files, IReadOnlyDictionary<string, IReadOnlyList<int>> Remaining) : INoSerializationVerificationNeeded;
internal sealed record Committed(ImageCommitted Event) : INoSerializationVerificationNeeded;
internal sealed record Aborted(string? Problem) : INoSerializationVerificationNeeded;
internal sealed record UnpauseDone(bool TookEffect) : INoSerializationVerificationNeeded;

/// <summary>Continue an unfinished job after the engine was restarted.</summary>
public sealed record ResumeJob(string JobId) : ICheckpointMessage;

/// <summary>No job with that id was ever started here.</summary>
public sealed record JobUnknown(string JobId) : ICheckpointMessage;
