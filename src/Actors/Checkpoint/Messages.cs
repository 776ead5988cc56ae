using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>The checkpoint protocol: what a client asks and what it is told.</summary>
public interface ICheckpointMessage;

/// <summary>
/// Checkpoint process <paramref name="Pid"/> into <paramref name="ImagesDir"/>. The process stays paused afterwards,
/// holding exactly the state in the image (ready to migrate); <paramref name="LeaveRunning"/> unpauses it after the commit.
/// </summary>
public sealed record CheckpointRequest(uint Pid, string ImagesDir, bool LeaveRunning) : ICheckpointMessage;

public sealed record CheckpointSummary(
    uint Pid,
    string ImagesDir,
    string ImageId,
    long Bytes,
    int Bos,
    int Devices,
    double Seconds,
    double PauseSeconds,
    bool LeftPaused)
{
    public double GigabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e9 : 0;
}

public sealed record CheckpointCompleted(CheckpointSummary Summary) : ICheckpointMessage;

/// <summary>The checkpoint failed; the image is marked failed and the process was unpaused (when it had been paused).</summary>
public sealed record CheckpointFailed(uint Pid, string Reason, bool Unpaused) : ICheckpointMessage;

// Results of the supervisor's own tasks: they carry live driver objects and never leave the process.
internal sealed record Paused(IKfdFile Kfd, KfdProcessInfo Info) : INoSerializationVerificationNeeded;
internal sealed record Captured(CapturedProcess Process, ImageWriter Writer, IReadOnlyDictionary<string, PageFile[]> Files) : INoSerializationVerificationNeeded;
internal sealed record Committed(ImageManifest Manifest) : INoSerializationVerificationNeeded;
internal sealed class Unpaused : INoSerializationVerificationNeeded
{
    public static readonly Unpaused Instance = new();
    private Unpaused() { }
}
internal sealed record CleanupDone(bool Unpaused, string? UnpauseError) : INoSerializationVerificationNeeded;
