using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Devices;

/// <summary>A process's /dev/kfd file.</summary>
public interface IKfdFile : IDisposable
{
    uint Pid { get; }

    int GetVersion(ref Uapi.KfdIoctlGetVersionArgs args);

    /// <summary>
    /// AMDKFD_IOC_CRIU_OP. The spans are what args.devices, args.bos and args.priv_data point to; the backend sets
    /// those pointers (pinned memory on a real device, the wire for the simulator). Returns 0 or an errno.
    /// </summary>
    int CriuOp(ref Uapi.KfdIoctlCriuArgs args, Span<Uapi.KfdCriuDeviceBucket> devices, Span<Uapi.KfdCriuBoBucket> bos, Span<byte> privData);
}
