using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator;

namespace Gpuckpt.Host.Commands;

/// <summary>The simulator behind a --driver value, for the commands only the simulated driver has.</summary>
internal static class SimDriverOption
{
    public static SimulatorClient Open(string driver, string command)
    {
        if (!driver.StartsWith("sim:", StringComparison.Ordinal))
            throw new UsageException($"{command} works only with the simulated driver (--driver sim:SOCKET), not '{driver}'");
        return (SimulatorClient)Drivers.Open(driver);
    }
}
