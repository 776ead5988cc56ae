using Gpuckpt.Engine.Devices.Linux;
using Gpuckpt.Engine.Simulation;

namespace Gpuckpt.Engine.Devices;

/// <summary>Opens a driver from its command-line spelling: <c>sim:SOCKET</c> or <c>kfd</c>.</summary>
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
