using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Simulation;

/// <summary>The engine's side of the simulated driver's Unix socket.</summary>
public static class SimulatorClient
{
    public static IGpuDriver Connect(string socketPath) => throw new DriverException(Errno.ENODEV, "connect", socketPath, detail: "simulator client not built yet");
}
