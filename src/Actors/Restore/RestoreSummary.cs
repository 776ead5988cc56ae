using Akka.Actor;
using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Restore;

namespace Gpuckpt.Actors.Restore;

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
