using Akka.Actor;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Migration;

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
