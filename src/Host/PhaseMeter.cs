using Gpuckpt.Actors.Copy;

namespace Gpuckpt.Host;

/// <summary>
/// How far the running phase is, from what its devices report: the bytes done over the bytes to do of every device
/// heard from since the phase began (each device counted once, at its latest report). A phase no device reports on
/// (pause, capture, commit) has no measure: it is shown as running, not as 0%.
/// </summary>
public sealed class PhaseMeter
{
    private readonly Dictionary<string, (long Done, long Total)> _devices = new(StringComparer.Ordinal);

    public void Begin() => _devices.Clear();

    public void Device(DeviceProgress progress) => _devices[progress.Device] = (Math.Min(progress.BytesDone, progress.BytesTotal), progress.BytesTotal);

    /// <summary>True once a device reported bytes to do in this phase.</summary>
    public bool Measured => Total > 0;

    public long Done => _devices.Values.Sum(d => d.Done);

    public long Total => _devices.Values.Sum(d => d.Total);
}
