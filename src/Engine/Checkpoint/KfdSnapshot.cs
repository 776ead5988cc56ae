using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>What KFD CHECKPOINT returns for one process: device and BO buckets, opaque private data.</summary>
public sealed record KfdSnapshot(uint Pid, KfdCriuDeviceBucket[] Devices, KfdCriuBoBucket[] Bos, byte[] PrivData, uint NumObjects)
{
    public const uint InvalidFd = 0xffffffff;
}
