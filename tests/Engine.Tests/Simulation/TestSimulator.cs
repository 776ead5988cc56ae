using Gpuckpt.Simulator;

namespace Gpuckpt.Engine.Tests.Simulation;

/// <summary>An in-process simulator on a fresh socket, with a connected client; Dispose removes both.</summary>
internal sealed class TestSimulator : IDisposable
{
    public TestSimulator(int gpus = 2, uint idSeed = 0, Gpuckpt.Engine.Topology.GpuTopology? topology = null, bool smallBar = false, ulong residentVram = 0)
    {
        SocketPath = NewSocketPath();
        Server = SimulatorServer.Start(new SimulatorOptions(SocketPath)
            { Gpus = gpus, IdSeed = idSeed, Topology = topology, SmallBar = smallBar, ResidentVram = residentVram });
        Client = SimulatorClient.Connect(SocketPath);
    }

    public string SocketPath { get; }
    public SimulatorServer Server { get; }
    public SimulatorClient Client { get; }

    /// <summary>A short path: Unix socket paths are limited to 108 bytes.</summary>
    public static string NewSocketPath() => Path.Combine(Path.GetTempPath(), $"gpuckpt-sim-{Guid.NewGuid():N}"[..24] + ".sock");

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
