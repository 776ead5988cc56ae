using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Simulator.Memory;

/// <summary>A refused simulated-driver call: the errno the kernel would return and why, for the reply.</summary>
internal sealed class SimError(int errno, string detail) : Exception($"{Errno.Name(errno)}: {detail}")
{
    public int ErrorNumber { get; } = errno;
    public string Detail { get; } = detail;
}
