using Akka.Actor;
using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

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
