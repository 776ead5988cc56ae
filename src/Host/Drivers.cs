using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Simulator;

namespace Gpuckpt.Host;

/// <summary>Opens a driver from its command-line spelling: <c>sim:SOCKET</c> (the simulator's client) or <c>kfd</c> (the kernel's).</summary>
public static class Drivers
{
    public static IGpuDriver Open(string spec)
    {
        if (spec.StartsWith("sim:", StringComparison.Ordinal) && spec.Length > 4)
            return SimulatorClient.Connect(spec[4..]);
        if (spec == "kfd")
            return KfdDriver.Open();
        throw new ArgumentException($"unknown driver '{spec}': use sim:SOCKET or kfd");
    }
}
